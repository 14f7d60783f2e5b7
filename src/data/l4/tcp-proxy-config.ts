import { asArray, asObj, asString, durationMs, wrapped, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import type { TunnelingConfig } from './tcp-tunnel.ts';

/** A compiled envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy. */
export interface TcpProxyConfig {
  statPrefix: string;
  cluster: string | undefined;
  weighted: readonly { name: string; weight: number }[] | undefined;
  totalWeight: number;
  idleTimeoutMs: number;
  maxConnectAttempts: number;
  /** tunneling_config: the stream goes inside an HTTP CONNECT/POST request to the upstream. */
  tunneling: TunnelingConfig | undefined;
}

export function compileTcpProxy(o: Obj, path: string): TcpProxyConfig {
  onlyFields(o, path, ['statPrefix', 'cluster', 'weightedClusters', 'idleTimeout', 'accessLog', 'maxConnectAttempts', 'metadataMatch', 'hashPolicy', 'tunnelingConfig', 'maxDownstreamConnectionDuration', 'accessLogOptions', 'onDemand', 'upstreamIdleTimeout', 'downstreamIdleTimeout']);
  let tunneling: TunnelingConfig | undefined;
  if (o.tunnelingConfig !== undefined) {
    const t = asObj(o.tunnelingConfig);
    onlyFields(t, `${path}.tunnelingConfig`, ['hostname', 'usePost', 'postPath', 'headersToAdd', 'propagateResponseHeaders', 'propagateResponseTrailers']);
    if (asArray(t.headersToAdd).length > 0) reject(`${path}.tunnelingConfig.headersToAdd`, 'tunnel request headers are not supported');
    const hostname = asString(t.hostname);
    if (!hostname) reject(`${path}.tunnelingConfig.hostname`, 'needs a hostname');
    if (/%[A-Z_]+(\(|%)/.test(hostname)) reject(`${path}.tunnelingConfig.hostname`, 'command operators in the hostname are not supported');
    if (t.postPath !== undefined && t.usePost !== true) reject(`${path}.tunnelingConfig.postPath`, 'post_path needs use_post');
    tunneling = { hostname, usePost: t.usePost === true, postPath: asString(t.postPath) || '/' };
  }
  if (o.metadataMatch !== undefined) reject(`${path}.metadataMatch`, 'subset load balancing is not supported');
  let weighted: { name: string; weight: number }[] | undefined;
  let total = 0;
  if (o.weightedClusters !== undefined) {
    weighted = asArray(asObj(o.weightedClusters).clusters).map((c) => ({ name: asString(c.name), weight: Number(c.weight ?? 0) }));
    total = weighted.reduce((s, c) => s + c.weight, 0);
    if (total <= 0) reject(`${path}.weightedClusters`, 'needs a positive total weight');
  }
  const cluster = typeof o.cluster === 'string' && o.cluster ? o.cluster : undefined;
  if (!cluster && !weighted) reject(path, 'needs cluster or weighted_clusters');
  return {
    statPrefix: asString(o.statPrefix),
    cluster,
    weighted,
    totalWeight: total,
    idleTimeoutMs: durationMs(o.idleTimeout) ?? 3_600_000,
    maxConnectAttempts: wrapped(o.maxConnectAttempts) ?? 1,
    tunneling,
  };
}
