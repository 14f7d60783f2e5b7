import { asArray, asNumber, asObj, asString, durationMs, filterMetadata, percent, wrapped, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileTransportSocket, type TlsSpec } from '../tls/tls-context-config.ts';
import { compileEndpoints, type EndpointSpec } from './endpoint-config.ts';
import { compileOutlier, type OutlierConfig } from './outlier-config.ts';
import { compileSlowStart, type SlowStartConfig } from './slow-start.ts';
import { compileUpstreamBind, type UpstreamBind } from './upstream-bind-config.ts';
import { messageNameOf } from '../../api/xds/type-urls.ts';
import { isTcpMetadataExchange } from '../telemetry/tcp-metadata-exchange.ts';

export type ClusterType = 'EDS' | 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';
export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV' | 'CLUSTER_PROVIDED';

export interface CircuitBreakerLimits {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
  /** thresholds.retry_budget: concurrent retries limited by the active load instead of max_retries. */
  retryBudget?: { percent: number; minConcurrency: number };
}

/** A compiled envoy.config.cluster.v3.Cluster. */
export interface ClusterConfig {
  /** Upstream filter istio.metadata_exchange: TCP metadata exchange when ALPN istio-peer-exchange is negotiated. */
  metadataExchange: boolean;
  name: string;
  type: ClusterType;
  edsServiceName: string;
  connectTimeoutMs: number;
  lbPolicy: LbPolicy;
  ringSize: number;
  choiceCount: number;
  /** round_robin / least_request lb config `slow_start_config` (the policy's own). */
  slowStart: SlowStartConfig | undefined;
  panicThreshold: number;
  /** common_lb_config.locality_weighted_lb_config: localities chosen by their weights. */
  localityWeighted: boolean;
  limits: CircuitBreakerLimits;
  outlier: OutlierConfig | undefined;
  tls: TlsSpec | undefined;
  /** transport_socket_matches in order; an endpoint whose metadata matches takes that socket. */
  tlsMatches: readonly { name: string; match: Readonly<Record<string, unknown>>; tls: TlsSpec | undefined; proxyProtocol: 1 | 2 | undefined }[];
  /** The transport socket is wrapped in upstream_proxy_protocol: each connection starts with a PROXY header of this version. */
  proxyProtocol: 1 | 2 | undefined;
  http2: boolean;
  /** http2_protocol_options.connection_keepalive: PING every intervalMs, close when unanswered for timeoutMs. */
  http2Keepalive: { intervalMs: number; timeoutMs: number } | undefined;
  useDownstreamProtocol: boolean;
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
  staticEndpoints: readonly EndpointSpec[] | undefined;
  dnsRefreshMs: number;
  /** dns_lookup_family: 4 (V4_ONLY), 6 (V6_ONLY) or 0 (both, IPv4 first). */
  dnsFamily: 0 | 4 | 6;
  /** upstream_bind_config: source addresses for upstream sockets (Istio: 127.0.0.6 on inbound). */
  bind: UpstreamBind | undefined;
  metadata: Obj;
  raw: Obj;
}

const CLUSTER_FIELDS = [
  'name', 'altStatName', 'type', 'edsClusterConfig', 'connectTimeout', 'perConnectionBufferLimitBytes', 'lbPolicy',
  'loadAssignment', 'circuitBreakers', 'typedExtensionProtocolOptions', 'dnsRefreshRate', 'dnsLookupFamily',
  'respectDnsTtl', 'outlierDetection', 'cleanupInterval', 'commonLbConfig', 'transportSocket', 'transportSocketMatches',
  'metadata', 'upstreamConnectionOptions', 'filters', 'ringHashLbConfig', 'leastRequestLbConfig', 'maglevLbConfig',
  'roundRobinLbConfig', 'commonHttpProtocolOptions', 'httpProtocolOptions', 'http2ProtocolOptions', 'maxRequestsPerConnection',
  'protocolSelection', 'closeConnectionsOnHostHealthFailure', 'ignoreHealthOnHostRemoval', 'trackClusterStats',
  'originalDstLbConfig', 'upstreamBindConfig', 'dnsJitter',
];

const DEFAULT_LIMITS: CircuitBreakerLimits = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };

/**
 * An upstream transport socket: TLS or raw, possibly wrapped in Envoy's upstream_proxy_protocol
 * socket (a PROXY header first, then the inner socket; no TLVs are passed through).
 */
function compileUpstreamTransport(ts: unknown, path: string): { tls: TlsSpec | undefined; proxyProtocol: 1 | 2 | undefined } {
  const tc = asObj(asObj(ts).typedConfig);
  if (messageNameOf(asString(tc['@type'] ?? tc.typeUrl)) !== 'envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport') {
    return { tls: compileTransportSocket(ts, path, 'upstream'), proxyProtocol: undefined };
  }
  const p = `${path}.typedConfig`;
  onlyFields(tc, p, ['@type', 'config', 'transportSocket', 'allowUnspecifiedAddress', 'tlvAsPoolKey']);
  const config = asObj(tc.config);
  onlyFields(config, `${p}.config`, ['version', 'passThroughTlvs']);
  if (config.passThroughTlvs !== undefined) reject(`${p}.config.passThroughTlvs`, 'passing TLVs through is not supported');
  const version = config.version === 'V2' || config.version === 1 ? 2 : 1;
  return { tls: compileTransportSocket(tc.transportSocket, `${p}.transportSocket`, 'upstream'), proxyProtocol: version };
}

function compileLimits(cb: unknown, path: string): CircuitBreakerLimits {
  const o = asObj(cb);
  onlyFields(o, path, ['thresholds', 'perHostThresholds']);
  const t = asArray(o.thresholds).find((x) => asString(x.priority, 'DEFAULT') === 'DEFAULT');
  if (!t) return DEFAULT_LIMITS;
  onlyFields(t, `${path}.thresholds`, ['priority', 'maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries', 'retryBudget', 'trackRemaining', 'maxConnectionPools']);
  return {
    maxConnections: wrapped(t.maxConnections) ?? DEFAULT_LIMITS.maxConnections,
    maxPendingRequests: wrapped(t.maxPendingRequests) ?? DEFAULT_LIMITS.maxPendingRequests,
    maxRequests: wrapped(t.maxRequests) ?? DEFAULT_LIMITS.maxRequests,
    maxRetries: wrapped(t.maxRetries) ?? DEFAULT_LIMITS.maxRetries,
    ...(t.retryBudget === undefined ? {} : { retryBudget: compileRetryBudget(t.retryBudget, `${path}.thresholds.retryBudget`) }),
  };
}

/** Envoy's defaults: budget_percent 20 %, min_retry_concurrency 3. */
function compileRetryBudget(rb: unknown, path: string): { percent: number; minConcurrency: number } {
  const o = asObj(rb);
  onlyFields(o, path, ['budgetPercent', 'minRetryConcurrency']);
  const bp = asObj(o.budgetPercent).value;
  return { percent: typeof bp === 'number' ? bp : 20, minConcurrency: wrapped(o.minRetryConcurrency) ?? 3 };
}

/** connection_keepalive of HTTP/2 protocol options (a missing timeout: the interval). */
function compileKeepalive(h2: unknown): { intervalMs: number; timeoutMs: number } | undefined {
  const ka = asObj(asObj(h2).connectionKeepalive);
  const intervalMs = durationMs(ka.interval) ?? 0;
  return intervalMs > 0 ? { intervalMs, timeoutMs: durationMs(ka.timeout) || intervalMs } : undefined;
}

function compileProtocolOptions(c: Obj, path: string): { http2: boolean; http2Keepalive: { intervalMs: number; timeoutMs: number } | undefined; useDownstream: boolean; idleTimeoutMs: number; maxRequestsPerConnection: number } {
  let http2 = c.http2ProtocolOptions !== undefined;
  let http2Keepalive = compileKeepalive(c.http2ProtocolOptions);
  let useDownstream = false;
  let idleTimeoutMs = durationMs(asObj(c.commonHttpProtocolOptions).idleTimeout) ?? 3_600_000;
  let maxReq = wrapped(c.maxRequestsPerConnection) ?? 0;
  for (const [key, v] of Object.entries(asObj(c.typedExtensionProtocolOptions))) {
    const p = `${path}.typedExtensionProtocolOptions["${key}"]`;
    const o = asObj(v);
    if (key !== 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions') reject(p, 'unsupported protocol options');
    onlyFields(o, p, ['commonHttpProtocolOptions', 'upstreamHttpProtocolOptions', 'explicitHttpConfig', 'useDownstreamProtocolConfig', 'autoConfig', 'httpFilters', 'headerValidationConfig']);
    if (asArray(o.httpFilters).length > 0) reject(`${p}.httpFilters`, 'upstream HTTP filters are not supported');
    const common = asObj(o.commonHttpProtocolOptions);
    idleTimeoutMs = durationMs(common.idleTimeout) ?? idleTimeoutMs;
    maxReq = wrapped(common.maxRequestsPerConnection) ?? maxReq;
    const explicit = asObj(o.explicitHttpConfig);
    if (explicit.http2ProtocolOptions !== undefined) http2 = true;
    if (o.useDownstreamProtocolConfig !== undefined) useDownstream = true;
    http2Keepalive = compileKeepalive(explicit.http2ProtocolOptions) ?? compileKeepalive(asObj(o.useDownstreamProtocolConfig).http2ProtocolOptions) ?? http2Keepalive;
    if (o.autoConfig !== undefined) useDownstream = true;
  }
  if (c.protocolSelection === 'USE_DOWNSTREAM_PROTOCOL') useDownstream = true;
  return { http2, http2Keepalive, useDownstream, idleTimeoutMs, maxRequestsPerConnection: maxReq };
}

export function compileCluster(c: Obj): ClusterConfig {
  const name = asString(c.name);
  const path = `Cluster ${name}`;
  if (!name) reject(`${path}.name`, 'cluster name is empty');
  onlyFields(c, path, CLUSTER_FIELDS);
  const type = asString(c.type, 'STATIC') as ClusterType;
  if (!['EDS', 'STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'ORIGINAL_DST'].includes(type)) reject(`${path}.type`, `cluster type ${type} not supported`);
  const lbPolicy = asString(c.lbPolicy, 'ROUND_ROBIN') as LbPolicy;
  onlyFields(c.leastRequestLbConfig, `${path}.leastRequestLbConfig`, ['choiceCount', 'slowStartConfig']);
  onlyFields(c.roundRobinLbConfig, `${path}.roundRobinLbConfig`, ['slowStartConfig']);
  if (!['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV', 'CLUSTER_PROVIDED'].includes(lbPolicy)) reject(`${path}.lbPolicy`, `lb policy ${lbPolicy} not supported`);
  let metadataExchange = false;
  for (const f of asArray(c.filters)) {
    const n = asString(f.name);
    if (!n.startsWith('istio.') && !n.includes('metadata_exchange')) reject(`${path}.filters`, `upstream network filter ${n} not supported`);
    const tc = asObj(f.typedConfig);
    if (isTcpMetadataExchange(n, messageNameOf(asString(tc['@type'])), asString(tc.typeUrl))) metadataExchange = true;
  }
  const tlsMatches = asArray(c.transportSocketMatches).map((m, i) => {
    const p = `${path}.transportSocketMatches[${i}]`;
    onlyFields(m, p, ['name', 'match', 'transportSocket']);
    const match = asObj(m.match);
    const fields = asObj(match.fields);
    const plain: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) plain[k] = asObj(v).stringValue ?? asObj(v).boolValue ?? asObj(v).numberValue;
    return { name: asString(m.name), match: plain, ...compileUpstreamTransport(m.transportSocket, `${p}.transportSocket`) };
  });
  const proto = compileProtocolOptions(c, path);
  const transport = compileUpstreamTransport(c.transportSocket, `${path}.transportSocket`);
  const panic = asObj(c.commonLbConfig).healthyPanicThreshold;
  let staticEndpoints: EndpointSpec[] | undefined;
  if (type === 'STATIC' || type === 'STRICT_DNS' || type === 'LOGICAL_DNS') {
    staticEndpoints = compileEndpoints(asObj(c.loadAssignment), `${path}.loadAssignment`).endpoints;
  } else if (c.loadAssignment !== undefined && type !== 'EDS') {
    reject(`${path}.loadAssignment`, `not allowed for ${type} clusters`);
  }
  return {
    name,
    type,
    edsServiceName: asString(asObj(c.edsClusterConfig).serviceName) || name,
    connectTimeoutMs: durationMs(c.connectTimeout) ?? 5000,
    lbPolicy,
    ringSize: Math.min(8_388_608, asNumber(asObj(asObj(c.ringHashLbConfig).minimumRingSize).value, 1024)),
    choiceCount: wrapped(asObj(c.leastRequestLbConfig).choiceCount) ?? 2,
    slowStart: lbPolicy === 'LEAST_REQUEST' ? compileSlowStart(c.leastRequestLbConfig, `${path}.leastRequestLbConfig`) : lbPolicy === 'ROUND_ROBIN' ? compileSlowStart(c.roundRobinLbConfig, `${path}.roundRobinLbConfig`) : undefined,
    panicThreshold: panic === undefined ? 0.5 : (percent(panic) ?? 0),
    localityWeighted: asObj(c.commonLbConfig).localityWeightedLbConfig !== undefined,
    limits: c.circuitBreakers === undefined ? DEFAULT_LIMITS : compileLimits(c.circuitBreakers, `${path}.circuitBreakers`),
    outlier: compileOutlier(c.outlierDetection, `${path}.outlierDetection`),
    tls: transport.tls,
    proxyProtocol: transport.proxyProtocol,
    tlsMatches,
    http2: proto.http2,
    http2Keepalive: proto.http2Keepalive,
    useDownstreamProtocol: proto.useDownstream,
    idleTimeoutMs: proto.idleTimeoutMs,
    maxRequestsPerConnection: proto.maxRequestsPerConnection,
    staticEndpoints,
    dnsRefreshMs: durationMs(c.dnsRefreshRate) ?? 5000,
    dnsFamily: c.dnsLookupFamily === 'V4_ONLY' ? 4 : c.dnsLookupFamily === 'V6_ONLY' ? 6 : 0,
    bind: compileUpstreamBind(c.upstreamBindConfig, `${path}.upstreamBindConfig`),
    metadata: filterMetadata(c.metadata, 'istio'),
    metadataExchange,
    raw: c,
  };
}
