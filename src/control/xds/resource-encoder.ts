import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { MizzenError } from '../../lib/errors.ts';
import { TYPE_URL, messageNameOf } from '../../api/xds/type-urls.ts';
import { protoJsonToObject } from '../../api/xds/proto-json.ts';
import type { GeneratedResource } from '../generate/generator.ts';
import { encodeResourceSet, type EncodedResourceSet } from './response-encoding.ts';

/** A resource ready to go on the wire: `google.protobuf.Any` bytes plus a content version. */
export interface EncodedResource {
  name: string;
  typeUrl: string;
  /** Serialized resource message (the Any's `value`). */
  value: Uint8Array;
  /** Short content hash: identical resources have identical versions (used by delta xDS). */
  version: string;
  aliases?: readonly string[];
  /** Sent although not subscribed by name (see GeneratedResource.implicit). */
  implicit?: boolean;
}

/** Route configurations with at least this many virtual hosts are encoded host by host. */
const VHOST_SPLIT_MIN = 32;

interface CacheEntry {
  value: Uint8Array;
  version: string;
}

/**
 * Encodes generated resources (protobuf JSON objects) with Envoy's protobuf types, once per
 * distinct content: a resource object shared between proxies is found by identity, an equal one
 * built separately by a content hash. The content-hash cache is bounded (least recently used out).
 */
export class ResourceEncoder {
  private readonly root: protobuf.Root;
  private readonly byIdentity = new WeakMap<object, CacheEntry>();
  private readonly byHash = new Map<string, CacheEntry>();
  private readonly maxEntries: number;
  private readonly sets = new WeakMap<readonly GeneratedResource[], { key: string; names: readonly string[] | undefined; set: EncodedResourceSet }>();
  private readonly types = new Map<string, protobuf.Type>();
  private virtualHostType: protobuf.Type | undefined;
  /** Counters for tests and /metrics. */
  encodes = 0;
  /** Virtual hosts encoded on their own (large route configurations). */
  virtualHostEncodes = 0;
  hits = 0;

  constructor(root: protobuf.Root, options: { maxEntries?: number } = {}) {
    this.root = root;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  private typeFor(typeUrl: string): protobuf.Type {
    let t = this.types.get(typeUrl);
    if (!t) {
      try {
        t = this.root.lookupType(messageNameOf(typeUrl));
      } catch (err) {
        throw new MizzenError('XDS_PROTOCOL', `no protobuf type for ${typeUrl}`, { cause: err });
      }
      this.types.set(typeUrl, t);
    }
    return t;
  }

  /** Encode one resource (throws MizzenError INTERNAL when the generator produced an invalid object). */
  encode(typeUrl: string, generated: GeneratedResource): EncodedResource {
    const obj = generated.resource;
    const known = this.byIdentity.get(obj);
    if (known) {
      this.hits++;
      return withNames({ name: generated.name, typeUrl, value: known.value, version: known.version }, generated);
    }
    // A large route configuration is hashed (and encoded) virtual host by virtual host, so each
    // host is serialized to JSON once: its key finds its bytes, and the keys make the whole's.
    const vhosts = typeUrl === TYPE_URL.route && Array.isArray(obj.virtualHosts) && obj.virtualHosts.length >= VHOST_SPLIT_MIN ? (obj.virtualHosts as Record<string, unknown>[]) : undefined;
    const vhostKeys = vhosts?.map((vh) => 'vh\0' + contentHash(JSON.stringify(vh)));
    const hash = contentHash(typeUrl, '\0', vhostKeys ? JSON.stringify({ ...obj, virtualHosts: vhostKeys }) : JSON.stringify(obj));
    let entry = this.byHash.get(hash);
    if (entry) {
      this.hits++;
      this.byHash.delete(hash);
      this.byHash.set(hash, entry);
    } else {
      const body = stripType(obj);
      let value: Uint8Array;
      try {
        value = vhosts && vhostKeys ? this.encodeRouteConfiguration(body, vhosts, vhostKeys) : this.encodeMessage(this.typeFor(typeUrl), body);
      } catch (e) {
        throw new MizzenError('INTERNAL', `generated ${typeUrl} ${JSON.stringify(generated.name)} does not encode: ${(e as Error).message}`, { cause: e });
      }
      this.encodes++;
      entry = { value, version: hash };
      this.remember(hash, entry);
    }
    this.byIdentity.set(obj, entry);
    return withNames({ name: generated.name, typeUrl, value: entry.value, version: entry.version }, generated);
  }

  /** Generators write proto3 JSON (durations "1s", plain wrappers); protobufjs wants its object form. */
  private encodeMessage(type: protobuf.Type, body: Record<string, unknown>): Uint8Array {
    const message = type.fromObject(protoJsonToObject(type, body).object);
    const err = type.verify(message);
    if (err) throw new Error(err);
    return type.encode(message).finish();
  }

  /**
   * A large RouteConfiguration is encoded virtual host by virtual host, each looked up by its
   * content hash first: a VirtualService edit changes one or a few of a thousand virtual hosts,
   * and re-encoding only those takes the rest of the ~50 ms conversion off the critical path of
   * every route push. The bytes are the configuration without `virtual_hosts` followed by each
   * virtual host as field 2, in order — the same message (protobuf parsers accept fields in any
   * order; repeated fields keep theirs).
   */
  private encodeRouteConfiguration(body: Record<string, unknown>, vhosts: readonly Record<string, unknown>[], keys: readonly string[]): Uint8Array {
    const rest = this.encodeMessage(this.typeFor(TYPE_URL.route), { ...body, virtualHosts: [] });
    const vhType = this.virtualHostType ??= this.root.lookupType('envoy.config.route.v3.VirtualHost');
    const w = protobuf.Writer.create();
    for (const [i, vh] of vhosts.entries()) {
      const key = keys[i]!;
      let entry = this.byHash.get(key);
      if (!entry) {
        entry = { value: this.encodeMessage(vhType, vh), version: key };
        this.virtualHostEncodes++;
        this.remember(key, entry);
      }
      w.uint32((2 << 3) | 2).bytes(entry.value);
    }
    const parts = w.finish();
    const out = new Uint8Array(rest.length + parts.length);
    out.set(rest, 0);
    out.set(parts, rest.length);
    return out;
  }

  private remember(key: string, entry: CacheEntry): void {
    this.byHash.set(key, entry);
    if (this.byHash.size > this.maxEntries) {
      const oldest = this.byHash.keys().next().value;
      if (oldest !== undefined) this.byHash.delete(oldest);
    }
  }

  /**
   * Encode a generated list (only `names` when given) as a response body. A list object shared
   * between proxies (the push's shared generation) is encoded once: the set is cached on it.
   */
  encodeList(typeUrl: string, generated: readonly GeneratedResource[], names: readonly string[] | undefined): EncodedResourceSet {
    const cached = this.sets.get(generated);
    // Streams with the same subscription pass the same (interned) array: no need to compare names.
    if (cached && cached.names === names && cached.key.startsWith(typeUrl + '\n')) return cached.set;
    const key = `${typeUrl}\n${names === undefined ? '*' : names.join('\0')}`;
    if (cached && cached.key === key) return cached.set;
    const wanted = names ? new Set(names) : undefined;
    const out: EncodedResource[] = [];
    for (const g of generated) {
      if (wanted && !wanted.has(g.name) && !g.implicit && !g.aliases?.some((a) => wanted.has(a))) continue;
      out.push(this.encode(typeUrl, g));
    }
    const set = encodeResourceSet(typeUrl, out);
    this.sets.set(generated, { key, names, set });
    return set;
  }

  get size(): number {
    return this.byHash.size;
  }
}

function withNames(e: EncodedResource, g: GeneratedResource): EncodedResource {
  if (g.aliases && g.aliases.length > 0) e.aliases = g.aliases;
  if (g.implicit) e.implicit = true;
  return e;
}

/** Short content hash (the resource version). */
function contentHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('base64url').slice(0, 16);
}

function stripType(obj: Record<string, unknown>): Record<string, unknown> {
  if (!('@type' in obj)) return obj;
  const { '@type': _ignored, ...rest } = obj;
  return rest;
}
