import protobuf from 'protobufjs';
import { jsonToStruct, structToJson, type Obj } from '../xds-client/proto-values.ts';

/** Istio's metadata exchange headers. */
export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id';

/** What metrics need of a workload's node metadata, resolved once per distinct peer. */
export interface PeerInfo {
  /** Small integer identity for label-cache keys. */
  readonly id: number;
  readonly workload: string;
  readonly namespace: string;
  readonly app: string;
  readonly version: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
  readonly serviceAccount: string;
  readonly cluster: string;
  readonly meshId: string;
}

const UNKNOWN = 'unknown';

function str(v: unknown): string {
  return typeof v === 'string' && v !== '' ? v : UNKNOWN;
}

/** PeerInfo from Istio node metadata (WORKLOAD_NAME, NAMESPACE, LABELS, SERVICE_ACCOUNT, CLUSTER_ID, MESH_ID). */
export function peerInfoOf(meta: Obj, id: number): PeerInfo {
  const labels = (typeof meta.LABELS === 'object' && meta.LABELS !== null ? meta.LABELS : {}) as Record<string, unknown>;
  const app = labels.app ?? labels['app.kubernetes.io/name'];
  const version = labels.version ?? labels['app.kubernetes.io/version'];
  const workload = str(meta.WORKLOAD_NAME ?? meta.NAME);
  return {
    id,
    workload,
    namespace: str(meta.NAMESPACE),
    app: str(app),
    version: str(version),
    canonicalService: str(labels['service.istio.io/canonical-name'] ?? app ?? meta.WORKLOAD_NAME),
    canonicalRevision: typeof (labels['service.istio.io/canonical-revision'] ?? version) === 'string' ? String(labels['service.istio.io/canonical-revision'] ?? version) : 'latest',
    serviceAccount: str(meta.SERVICE_ACCOUNT),
    cluster: str(meta.CLUSTER_ID),
    meshId: str(meta.MESH_ID),
  };
}

/** The node metadata keys a proxy sends to its peers (Istio's exchanged set). */
const EXCHANGED = ['NAME', 'NAMESPACE', 'LABELS', 'WORKLOAD_NAME', 'OWNER', 'SERVICE_ACCOUNT', 'CLUSTER_ID', 'MESH_ID', 'INSTANCE_IPS', 'APP_CONTAINERS', 'ISTIO_VERSION', 'PLATFORM_METADATA'];

/** The part of node metadata a proxy sends to its peers. */
export function exchangedMetadata(meta: Obj): Obj {
  const out: Obj = {};
  for (const k of EXCHANGED) if (meta[k] !== undefined && meta[k] !== '') out[k] = meta[k];
  return out;
}

/**
 * Encodes our node metadata as Istio's `x-envoy-peer-metadata` value (base64 of a serialized
 * google.protobuf.Struct) and decodes peers' values, caching decoded peers by header value (the
 * same few peers send the same bytes on every request).
 */
export class PeerMetadataCodec {
  private readonly struct: protobuf.Type;
  private readonly cache = new Map<string, PeerInfo | null>();
  private nextId = 1;
  private readonly maxEntries: number;

  constructor(maxEntries = 1024) {
    const root = protobuf.Root.fromJSON(protobuf.common.get('google/protobuf/struct.proto') as protobuf.INamespace);
    this.struct = root.lookupType('google.protobuf.Struct');
    this.maxEntries = maxEntries;
  }

  /** Header value for our own metadata (plain JSON node metadata). */
  encode(meta: Obj): string {
    const msg = this.struct.fromObject(jsonToStruct(exchangedMetadata(meta)));
    return Buffer.from(this.struct.encode(msg).finish()).toString('base64');
  }

  /** Decoded node metadata (plain JSON), undefined when the value is not a Struct. */
  decodeRaw(value: string): Obj | undefined {
    try {
      const msg = this.struct.decode(Buffer.from(value, 'base64'));
      return structToJson(this.struct.toObject(msg, { defaults: false }));
    } catch {
      return undefined;
    }
  }

  /** A peer from a header value (cached). */
  decode(value: string): PeerInfo | undefined {
    const hit = this.cache.get(value);
    if (hit !== undefined) return hit ?? undefined;
    const raw = this.decodeRaw(value);
    const info = raw ? peerInfoOf(raw, this.nextId++) : null;
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(value, info);
    return info ?? undefined;
  }
}
