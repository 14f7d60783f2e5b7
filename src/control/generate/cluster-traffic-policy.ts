import type { ConnectionPoolSettings } from '../../api/istio/connection-pool.ts';
import type { LoadBalancerSettings, OutlierDetection, RetryBudget, TrafficPolicy } from '../../api/istio/destination-rule.ts';
import type { ClientTLSSettings } from '../../api/istio/tls-settings.ts';
import { EXT, duration, type JsonObject } from './envoy-extensions.ts';

/** The settings a cluster takes from a DestinationRule, after merging. */
export interface EffectivePolicy {
  /** TrafficPolicy.retryBudget (rule, then subset; not port-level). */
  retryBudget?: RetryBudget;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  /** TrafficPolicy.proxyProtocol (rule, then subset; not port-level, as istiod). */
  proxyProtocol?: TrafficPolicy['proxyProtocol'];
  /** TrafficPolicy.tunnel (rule, then subset). */
  tunnel?: TrafficPolicy['tunnel'];
}

/**
 * Merge as Istio does: the rule's policy, overridden by its port-level settings for this port,
 * overridden by the subset's policy, overridden by the subset's port-level settings.
 */
export function effectivePolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): EffectivePolicy {
  const out: EffectivePolicy = {};
  for (const p of [top, subset]) {
    if (!p) continue;
    apply(out, p);
    if (p.retryBudget) out.retryBudget = p.retryBudget;
    if (p.proxyProtocol) out.proxyProtocol = p.proxyProtocol;
    if (p.tunnel) out.tunnel = p.tunnel;
    const portLevel = p.portLevelSettings?.find((s) => s.port?.number === port);
    if (portLevel) apply(out, portLevel);
  }
  return out;
}

function apply(out: EffectivePolicy, p: EffectivePolicy): void {
  if (p.loadBalancer) out.loadBalancer = p.loadBalancer;
  if (p.connectionPool) out.connectionPool = p.connectionPool;
  if (p.outlierDetection) out.outlierDetection = p.outlierDetection;
  if (p.tls) out.tls = p.tls;
}

/**
 * istiod's applyUpstreamProxyProtocol: the cluster's transport socket (raw buffer when it has
 * none) and each transport_socket_matches socket wrapped in Envoy's upstream_proxy_protocol
 * socket, so every upstream connection starts with a PROXY header (v1 text or v2 binary).
 */
export function wrapProxyProtocol(cluster: JsonObject, pp: TrafficPolicy['proxyProtocol']): void {
  if (!pp) return;
  const wrap = (inner: JsonObject): JsonObject => ({
    name: EXT.upstreamProxyProtocol.name,
    typedConfig: { '@type': EXT.upstreamProxyProtocol.type, config: { version: pp.version === 'V2' ? 'V2' : 'V1' }, transportSocket: inner },
  });
  const matches = cluster.transportSocketMatches as JsonObject[] | undefined;
  if (!cluster.transportSocket && !(matches && matches.length > 0)) {
    cluster.transportSocket = wrap({ name: EXT.rawBuffer.name, typedConfig: { '@type': EXT.rawBuffer.type } });
    return;
  }
  if (cluster.transportSocket) cluster.transportSocket = wrap(cluster.transportSocket as JsonObject);
  for (const m of matches ?? []) m.transportSocket = wrap(m.transportSocket as JsonObject);
}

const MAX = 4294967295;

/** lbPolicy and its config fields on the cluster. */
export function loadBalancerFields(lb: LoadBalancerSettings | undefined): JsonObject {
  if (lb?.consistentHash) {
    const ch = lb.consistentHash;
    if (ch.maglev) return { lbPolicy: 'MAGLEV', ...(ch.maglev.tableSize ? { maglevLbConfig: { tableSize: ch.maglev.tableSize } } : {}) };
    const min = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
    return { lbPolicy: 'RING_HASH', ...(min ? { ringHashLbConfig: { minimumRingSize: String(min) } } : {}) };
  }
  // istiod: warmup (else the deprecated warmupDurationSecs) becomes the slow start of round robin and
  // least request; warmup's aggression and minimumPercent default to 1 and 10, its runtime key is fixed
  const warmup = lb?.warmup;
  const window = duration(warmup ? warmup.duration : lb?.warmupDurationSecs);
  const slowStart = !window
    ? undefined
    : warmup
      ? { slowStartConfig: { slowStartWindow: window, aggression: { defaultValue: warmup.aggression ?? 1, runtimeKey: '(' }, minWeightPercent: { value: warmup.minimumPercent ?? 10 } } }
      : { slowStartConfig: { slowStartWindow: window } };
  switch (lb?.simple) {
    case 'LEAST_CONN':
    case 'LEAST_REQUEST':
      return { lbPolicy: 'LEAST_REQUEST', ...(slowStart ? { leastRequestLbConfig: slowStart } : {}) };
    case 'RANDOM':
      return { lbPolicy: 'RANDOM' };
    case 'PASSTHROUGH':
      return { type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' };
    case 'ROUND_ROBIN':
      return { lbPolicy: 'ROUND_ROBIN', ...(slowStart ? { roundRobinLbConfig: slowStart } : {}) };
    default:
      // Istio's default since 1.14
      return { lbPolicy: 'LEAST_REQUEST', ...(slowStart ? { leastRequestLbConfig: slowStart } : {}) };
  }
}

/**
 * istiod's shouldH2Upgrade for an outbound cluster: never with useClientProtocol; the
 * DestinationRule's UPGRADE / DO_NOT_UPGRADE decide; else MeshConfig's h2UpgradePolicy, for HTTP
 * ports only (a sniffed port keeps the downstream's protocol).
 */
export function shouldH2Upgrade(pool: ConnectionPoolSettings | undefined, httpPort: boolean, meshPolicy: string | undefined): boolean {
  const http = pool?.http;
  if (http?.useClientProtocol) return false;
  if (http?.h2UpgradePolicy === 'UPGRADE') return true;
  if (http?.h2UpgradePolicy === 'DO_NOT_UPGRADE') return false;
  return httpPort && meshPolicy === 'UPGRADE';
}

/**
 * circuit_breakers, connect timeout, per-connection limits, idle timeouts (Istio's defaults: no
 * limits). `upgrade`: shouldH2Upgrade's answer (outbound clusters only).
 */
export function connectionPoolFields(pool: ConnectionPoolSettings | undefined, http2: boolean, defaultConnectTimeout = '10s', downstreamProtocol = false, retryBudget?: RetryBudget, upgrade = pool?.http?.h2UpgradePolicy === 'UPGRADE' && pool.http.useClientProtocol !== true): JsonObject {
  const thresholds: JsonObject = {
    maxConnections: pool?.tcp?.maxConnections ?? MAX,
    maxPendingRequests: pool?.http?.http1MaxPendingRequests ?? MAX,
    maxRequests: pool?.http?.http2MaxRequests ?? MAX,
    maxRetries: pool?.http?.maxRetries ?? MAX,
  };
  // istiod's applyRetryBudget: its defaults are 0.2 (Envoy's Percent is 0-100: 0.2 %, as istiod sends it) and 3
  if (retryBudget) thresholds.retryBudget = { budgetPercent: { value: retryBudget.percent ?? 0.2 }, minRetryConcurrency: (retryBudget.minRetryConcurrency ?? 0) > 0 ? retryBudget.minRetryConcurrency! : 3 };
  const out: JsonObject = { connectTimeout: duration(pool?.tcp?.connectTimeout) ?? duration(defaultConnectTimeout) ?? '10s', circuitBreakers: { thresholds: [thresholds] } };
  const common: JsonObject = {};
  const idle = duration(pool?.http?.idleTimeout);
  if (idle) common.idleTimeout = idle;
  const maxConnDuration = duration(pool?.tcp?.maxConnectionDuration);
  if (maxConnDuration) common.maxConnectionDuration = maxConnDuration;
  if (pool?.http?.maxRequestsPerConnection) common.maxRequestsPerConnection = pool.http.maxRequestsPerConnection;
  const followDownstream = pool?.http?.useClientProtocol === true || (downstreamProtocol && !http2 && !upgrade);
  // http2KeepAlive: HTTP/2 PINGs on the cluster's HTTP/2 connections (Envoy's connection_keepalive)
  const ka2 = pool?.http?.http2KeepAlive;
  const keepalive: JsonObject = {};
  if (duration(ka2?.interval)) keepalive.interval = duration(ka2?.interval);
  if (duration(ka2?.timeout)) keepalive.timeout = duration(ka2?.timeout);
  const h2Options = (extra: JsonObject): JsonObject => ({ ...extra, ...(Object.keys(keepalive).length > 0 ? { connectionKeepalive: keepalive } : {}) });
  if (http2 || upgrade || followDownstream || Object.keys(common).length > 0) {
    const protocol: JsonObject = { '@type': EXT.httpProtocolOptions.type };
    if (Object.keys(common).length > 0) protocol.commonHttpProtocolOptions = common;
    if (followDownstream) protocol.useDownstreamProtocolConfig = { httpProtocolOptions: {}, http2ProtocolOptions: h2Options({}) };
    else protocol.explicitHttpConfig = http2 || upgrade ? { http2ProtocolOptions: h2Options(pool?.http?.maxConcurrentStreams ? { maxConcurrentStreams: pool.http.maxConcurrentStreams } : {}) } : { httpProtocolOptions: {} };
    out.typedExtensionProtocolOptions = { [EXT.httpProtocolOptions.name]: protocol };
  }
  const ka = pool?.tcp?.tcpKeepalive;
  if (ka) {
    const keepalive: JsonObject = {};
    if (ka.probes) keepalive.keepaliveProbes = ka.probes;
    const t = duration(ka.time);
    const i = duration(ka.interval);
    if (t) keepalive.keepaliveTime = Math.round(Number(t.slice(0, -1)));
    if (i) keepalive.keepaliveInterval = Math.round(Number(i.slice(0, -1)));
    out.upstreamConnectionOptions = { tcpKeepalive: keepalive };
  }
  return out;
}

/**
 * outlier_detection as istiod maps it: success-rate ejection off (`enforcingSuccessRate: 0`, and
 * for local-origin errors when they are split), consecutive 5xx / gateway errors enforced when
 * non-zero, Envoy's defaults for what the rule leaves out (consecutive_5xx 5 stays enforced). The
 * deprecated `consecutiveErrors` is not read (istiod ignores it; validation warns). Failure
 * percentage is not an Istio field: Envoy's default (not enforced) applies.
 */
export function outlierDetectionFields(od: OutlierDetection | undefined): JsonObject {
  if (!od) return {};
  const out: JsonObject = { enforcingSuccessRate: 0 };
  if (od.consecutive5xxErrors !== undefined) {
    out.consecutive5xx = od.consecutive5xxErrors;
    out.enforcingConsecutive5xx = od.consecutive5xxErrors > 0 ? 100 : 0;
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutiveGatewayFailure = od.consecutiveGatewayErrors;
    out.enforcingConsecutiveGatewayFailure = od.consecutiveGatewayErrors > 0 ? 100 : 0;
  }
  const interval = duration(od.interval);
  if (interval) out.interval = interval;
  const base = duration(od.baseEjectionTime);
  if (base) out.baseEjectionTime = base;
  if ((od.maxEjectionPercent ?? 0) > 0) out.maxEjectionPercent = od.maxEjectionPercent;
  if (od.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if ((od.consecutiveLocalOriginFailures ?? 0) > 0) {
      out.consecutiveLocalOriginFailure = od.consecutiveLocalOriginFailures;
      out.enforcingConsecutiveLocalOriginFailure = 100;
    }
    out.enforcingLocalOriginSuccessRate = 0;
  }
  const fields: JsonObject = { outlierDetection: out };
  if (od.minHealthPercent !== undefined) fields.commonLbConfig = { healthyPanicThreshold: { value: od.minHealthPercent } };
  return fields;
}
