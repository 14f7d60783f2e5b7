import type protobuf from 'protobufjs';
import { loadEnvoyRoot } from '../../api/xds/envoy-protos.ts';
import { messageNameOf } from '../../api/xds/type-urls.ts';

/** A decoded Envoy resource: protobuf JSON-ish plain object, `Any`s unpacked with `@type`. */
export type EnvoyObject = Record<string, unknown>;

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: false, json: true, bytes: String };

/**
 * Encodes and decodes Envoy v3 messages with one protobufjs Root. Decoding gives plain objects in
 * Envoy's JSON field naming (camelCase), with every known `Any` unpacked and tagged `@type`
 * (unknown ones keep `typeUrl`), so compilers and `/config_dump` work on the same shape.
 */
export class EnvoyCodec {
  readonly root: protobuf.Root;
  private readonly types = new Map<string, protobuf.Type>();

  constructor(root: protobuf.Root = loadEnvoyRoot()) {
    this.root = root;
  }

  type(fullName: string): protobuf.Type {
    let t = this.types.get(fullName);
    if (!t) {
      t = this.root.lookupType(fullName);
      this.types.set(fullName, t);
    }
    return t;
  }

  typeOfUrl(typeUrl: string): protobuf.Type {
    return this.type(messageNameOf(typeUrl));
  }

  /** Decode bytes of the message named by `typeUrl` to a plain object. */
  decode(typeUrl: string, bytes: Uint8Array): EnvoyObject {
    const t = this.typeOfUrl(typeUrl);
    return t.toObject(t.decode(bytes), TO_OBJECT) as EnvoyObject;
  }

  /** Encode a plain object (Envoy JSON naming; `Any` as `{ '@type': ..., ...fields }`). */
  encode(typeUrl: string, object: EnvoyObject): Uint8Array {
    const t = this.typeOfUrl(typeUrl);
    const err = t.verify(t.fromObject(object));
    if (err) throw new Error(`${messageNameOf(typeUrl)}: ${err}`);
    return t.encode(t.fromObject(object)).finish();
  }

  /** A plain object for `google.protobuf.Any` carrying `object` as `typeUrl`. */
  anyOf(typeUrl: string, object: EnvoyObject): { typeUrl: string; value: Uint8Array } {
    return { typeUrl, value: this.encode(typeUrl, object) };
  }
}
