import { asObj, isObj, structToJson, type Obj } from '../xds-client/proto-values.ts';
import type { HeaderList } from '../http1/header-list.ts';
import type { FilterContext, FilterVerdict, HttpFilter } from '../l7/http-filter.ts';
import type { StreamInfo } from '../l7/stream-info.ts';
import { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, type PeerInfo, type PeerMetadataCodec } from './peer-metadata.ts';

export const PEER_METADATA_TYPE = 'io.istio.http.peer_metadata.Config';
/** filterState key of the per-request telemetry record. */
export const TELEMETRY_RECORD_KEY = 'istio.telemetry';

/**
 * What telemetry learns about one request beyond StreamInfo: the peers on either side and a
 * few request/response facts the access log and metrics need. One object per downstream
 * connection's StreamInfo, reset per request (no per-request allocation).
 */
export class TelemetryRecord {
  downstreamPeer: PeerInfo | undefined;
  upstreamPeer: PeerInfo | undefined;
  grpc = false;
  grpcStatus = '';
  forwardedFor = '';
  originalPath = '';
  requestId = '';

  reset(): void {
    this.downstreamPeer = undefined;
    this.upstreamPeer = undefined;
    this.grpc = false;
    this.grpcStatus = '';
    this.forwardedFor = '';
    this.originalPath = '';
    this.requestId = '';
  }
}

export function telemetryRecord(info: StreamInfo): TelemetryRecord | undefined {
  return info.filterState.get(TELEMETRY_RECORD_KEY) as TelemetryRecord | undefined;
}

export interface MetadataExchangeDeps {
  codec: PeerMetadataCodec;
  /** Our `x-envoy-peer-metadata` and `-id` values. */
  ownValue: string;
  ownId: string;
}

interface Sides {
  downstreamDiscovery: boolean;
  downstreamPropagation: boolean;
  upstreamDiscovery: boolean;
  upstreamPropagation: boolean;
}

function sidesOf(config: Obj): Sides | undefined {
  // typed directly or as a TypedStruct whose value is a Struct
  const v = isObj(config.value) ? (isObj(config.value.fields) ? structToJson(config.value) : config.value) : config;
  const has = (k: string, camel: string): boolean => {
    const x = v[k] ?? v[camel];
    return Array.isArray(x) && x.length > 0;
  };
  const s: Sides = {
    downstreamDiscovery: has('downstream_discovery', 'downstreamDiscovery'),
    downstreamPropagation: has('downstream_propagation', 'downstreamPropagation'),
    upstreamDiscovery: has('upstream_discovery', 'upstreamDiscovery'),
    upstreamPropagation: has('upstream_propagation', 'upstreamPropagation'),
  };
  return s.downstreamDiscovery || s.downstreamPropagation || s.upstreamDiscovery || s.upstreamPropagation ? s : undefined;
}

function recordFor(records: WeakMap<StreamInfo, TelemetryRecord>, info: StreamInfo): TelemetryRecord {
  let r = records.get(info);
  if (!r) {
    r = new TelemetryRecord();
    records.set(info, r);
  } else r.reset();
  info.filterState.set(TELEMETRY_RECORD_KEY, r);
  return r;
}

/**
 * istio.metadata_exchange (io.istio.http.peer_metadata.Config): the client sidecar adds its
 * node metadata to requests and learns the server from the response; the server sidecar learns
 * the client from the request and answers with its own. Exchange headers never reach the app
 * or the client. Which sides run comes from the config (downstream/upstream discovery and
 * propagation) or, when empty, from the listener direction (INBOUND: downstream side).
 * Also captures the per-request facts telemetry needs (gRPC, status, XFF, original path).
 */
export function createMetadataExchangeFilter(name: string, config: Obj, deps: MetadataExchangeDeps): HttpFilter {
  const sides = sidesOf(asObj(config));
  const { codec, ownValue, ownId } = deps;
  const inbound = (info: StreamInfo): boolean => info.direction === 'INBOUND';
  const records = new WeakMap<StreamInfo, TelemetryRecord>();
  return {
    name,
    decodeHeaders(ctx: FilterContext): FilterVerdict {
      const info = ctx.info;
      const h = ctx.request.headers;
      const rec = recordFor(records, info);
      const ct = h.get('content-type');
      rec.grpc = ct !== undefined && ct.startsWith('application/grpc');
      rec.forwardedFor = h.getAll('x-forwarded-for') ?? '';
      rec.originalPath = h.get('x-envoy-original-path') ?? '';
      rec.requestId = h.get('x-request-id') ?? '';
      const peer = h.get(PEER_METADATA_HEADER);
      if (peer !== undefined) {
        if (sides ? sides.downstreamDiscovery : inbound(info)) rec.downstreamPeer = codec.decode(peer);
        h.remove(PEER_METADATA_HEADER);
        h.remove(PEER_METADATA_ID_HEADER);
      }
      if (sides ? sides.upstreamPropagation : !inbound(info)) {
        h.set(PEER_METADATA_HEADER, ownValue);
        h.set(PEER_METADATA_ID_HEADER, ownId);
      }
      return undefined;
    },
    encodeHeaders(ctx: FilterContext, _status: number, headers: HeaderList): void {
      const info = ctx.info;
      const rec = telemetryRecord(info);
      const peer = headers.get(PEER_METADATA_HEADER);
      if (peer !== undefined) {
        if (rec && (sides ? sides.upstreamDiscovery : !inbound(info))) rec.upstreamPeer = codec.decode(peer);
        headers.remove(PEER_METADATA_HEADER);
        headers.remove(PEER_METADATA_ID_HEADER);
      }
      if (rec) rec.grpcStatus = headers.get('grpc-status') ?? '';
      if (sides ? sides.downstreamPropagation : inbound(info)) {
        headers.set(PEER_METADATA_HEADER, ownValue);
        headers.set(PEER_METADATA_ID_HEADER, ownId);
      }
    },
  };
}
