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

/** HTTP filters in Istio's order: authn/authz, fault, CORS, router last. */
export function httpFilters(opts: Pick<HcmOptions, 'preFilters' | 'grpc'>): JsonObject[] {
  if (opts.grpc) return [...(opts.preFilters ?? []), typedFilter(EXT.router)];
  return [...(opts.preFilters ?? []), typedFilter(EXT.fault), typedFilter(EXT.cors), typedFilter(EXT.router)];
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
