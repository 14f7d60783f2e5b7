import protobuf from 'protobufjs';
import type { EncodedResource } from './resource-encoder.ts';

/**
 * Wire encoding of SotW responses without re-encoding shared resources per proxy: the repeated
 * `resources` field (google.protobuf.Any entries) of a resource list is built once and kept with
 * the list; each proxy's DiscoveryResponse is a small header plus those bytes.
 */
export interface EncodedResourceSet {
  resources: readonly EncodedResource[];
  /** Names and content versions: equal signatures mean identical responses. */
  signature: string;
  /** Field 2 (`repeated Any resources`) of DiscoveryResponse, ready to append. */
  body: Uint8Array;
  size: number;
  /** Name → resource, built on first use and shared by every holder of the set. */
  index?: Map<string, EncodedResource>;
  /**
   * The changed-only response from an earlier set to this one (incremental EDS/RDS), computed
   * once for every proxy that had exactly that earlier set.
   */
  changedSince?: WeakMap<EncodedResourceSet, EncodedResourceSet>;
}

export function encodeResourceSet(typeUrl: string, resources: readonly EncodedResource[]): EncodedResourceSet {
  const w = protobuf.Writer.create();
  let signature = '';
  let size = 0;
  for (const r of resources) {
    signature += `${r.name}\0${r.version}\n`;
    size += r.value.length;
    // Any { type_url = 1; value = 2 } as DiscoveryResponse.resources (field 2, length-delimited)
    w.uint32(0x12).fork().uint32(0x0a).string(typeUrl).uint32(0x12).bytes(r.value).ldelim();
  }
  return { resources, signature, body: w.finish(), size };
}

/**
 * DiscoveryResponse as three parts to write back to back (version_info=1; resources=2, the
 * set's pre-encoded body, shared by every proxy sent the same set and never copied; type_url=4,
 * nonce=5, control_plane=6): protobuf fields may come in any order, so the small per-proxy head
 * and tail frame the shared body without joining it.
 */
export function encodeDiscoveryResponse(versionInfo: string, typeUrl: string, nonce: string, controlPlaneId: string, set: EncodedResourceSet): [Uint8Array, Uint8Array, Uint8Array] {
  const head = protobuf.Writer.create().uint32(0x0a).string(versionInfo).finish();
  const tail = protobuf.Writer.create().uint32(0x22).string(typeUrl).uint32(0x2a).string(nonce).uint32(0x32).fork().uint32(0x0a).string(controlPlaneId).ldelim().finish();
  return [head, set.body, tail];
}
