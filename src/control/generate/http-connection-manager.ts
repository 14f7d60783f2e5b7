import { EXT, adsConfigSource, typedFilter, type JsonObject } from './envoy-extensions.ts';

export interface HcmOptions {
  statPrefix: string;
  /** RDS route config name, or an inline route configuration. */
  rds?: string;
  routeConfig?: JsonObject;
  /** Filters before fault/cors/router (authn, authz). */
  preFilters?: JsonObject[];
  /** Proxyless gRPC: router only (clients NACK unknown non-optional filters). */
  grpc?: boolean;
  /** Inbound: forward the peer certificate details (XFCC) as Istio's sidecars do. */
  inbound?: boolean;
}

const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';

/**
 * Istio's `istio.metadata_exchange` (peer_metadata): inbound learns the client from request
 * headers and answers with its own metadata; outbound (and gateways) send theirs upstream and
 * learn the server from the response.
 */
export function metadataExchangeFilter(inbound: boolean): JsonObject {
  const value = inbound
    ? { downstream_discovery: [{ istio_headers: {} }], downstream_propagation: [{ istio_headers: {} }] }
    : { upstream_discovery: [{ istio_headers: {} }], upstream_propagation: [{ istio_headers: {} }] };
  return { name: 'istio.metadata_exchange', typedConfig: { '@type': TYPED_STRUCT, typeUrl: 'type.googleapis.com/io.istio.http.peer_metadata.Config', value } };
}

/** Istio's `istio.stats` (metrics with reporter by direction). */
export function statsFilter(inbound: boolean): JsonObject {
  return { name: 'istio.stats', typedConfig: { '@type': TYPED_STRUCT, typeUrl: 'type.googleapis.com/stats.PluginConfig', value: inbound ? { reporter: 'SERVER' } : {} } };
}

/** HTTP filters in Istio's order: metadata exchange, authn/authz, fault, CORS, stats, router last. */
export function httpFilters(opts: Pick<HcmOptions, 'preFilters' | 'grpc' | 'inbound'>): JsonObject[] {
  if (opts.grpc) return [...(opts.preFilters ?? []), typedFilter(EXT.router)];
  const inbound = opts.inbound === true;
  return [metadataExchangeFilter(inbound), ...(opts.preFilters ?? []), typedFilter(EXT.fault), typedFilter(EXT.cors), statsFilter(inbound), typedFilter(EXT.router)];
}

/** The HttpConnectionManager typed config (the `Any` body). */
export function httpConnectionManagerConfig(opts: HcmOptions): JsonObject {
  const out: JsonObject = { '@type': EXT.httpConnectionManager.type, statPrefix: opts.statPrefix };
  if (opts.rds !== undefined) out.rds = { routeConfigName: opts.rds, configSource: adsConfigSource() };
  else out.routeConfig = opts.routeConfig ?? { name: opts.statPrefix, virtualHosts: [] };
  out.httpFilters = httpFilters(opts);
  if (!opts.grpc) {
    out.useRemoteAddress = false;
    out.normalizePath = true;
    out.pathWithEscapedSlashesAction = 'KEEP_UNCHANGED';
    if (opts.inbound) out.forwardClientCertDetails = 'APPEND_FORWARD';
  }
  return out;
}

/** As a network filter in a filter chain. */
export function httpConnectionManagerFilter(opts: HcmOptions): JsonObject {
  return { name: EXT.httpConnectionManager.name, typedConfig: httpConnectionManagerConfig(opts) };
}

/** tcp_proxy to one cluster or weighted clusters. */
export function tcpProxyFilter(statPrefix: string, target: string | { name: string; weight: number }[]): JsonObject {
  const config: JsonObject = { '@type': EXT.tcpProxy.type, statPrefix };
  if (typeof target === 'string') config.cluster = target;
  else config.weightedClusters = { clusters: target };
  return { name: EXT.tcpProxy.name, typedConfig: config };
}
