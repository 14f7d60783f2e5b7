import type { ConsistentHashLB } from '../../api/istio/destination-rule.ts';
import type { Destination, HTTPMatchRequest, HTTPRetry, HTTPRoute } from '../../api/istio/virtual-service.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { outboundClusterName } from './cluster-names.ts';
import { EXT, duration, fractionalPercent, type JsonObject } from './envoy-extensions.ts';
import { headerOptions } from './route-filters.ts';
import type { MatchScope } from './route-matches.ts';

export interface RouteBuildContext extends MatchScope {
  push: PushContext;
  proxy: ProxyInfo;
}

/** istiod's cluster name for a destination it cannot resolve (it is never generated). */
export const UNKNOWN_SERVICE_CLUSTER = 'UnknownService';

/** Istio's default retry policy for HTTP routes. */
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

/**
 * Istio's default retry policy (pilot's retry.DefaultPolicy): 2 retries on connect failures,
 * refused streams, gRPC unavailable/cancelled; `retriable-status-codes` with no codes, exactly as
 * the real istiod sends it (bench/fidelity), so a 503 answered by the upstream's sidecar is not
 * retried unless the request's `x-envoy-retriable-status-codes` or a VirtualService's `retryOn`
 * names it. On a retry prefer a host not tried yet
 * (`previous_hosts`), except when the route hashes to a host (consistent hash), where retrying
 * elsewhere would break affinity.
 */
export function defaultRetryPolicy(consistentHash = false): JsonObject {
  return { retryOn: DEFAULT_RETRY_ON, numRetries: 2, ...hostSelection(consistentHash) };
}

/** How a retry picks its host (Envoy sidecars; proxyless gRPC has no host predicates). */
function hostSelection(consistentHash: boolean): JsonObject {
  const previousHosts = { name: EXT.previousHosts.name, typedConfig: { '@type': EXT.previousHosts.type } };
  return { ...(consistentHash ? {} : { retryHostPredicate: [previousHosts] }), hostSelectionRetryMaxAttempts: '5' };
}

/** `outbound|PORT|SUBSET|HOST` for a VirtualService destination. */
export function destinationCluster(dest: Destination | undefined, ctx: RouteBuildContext): string {
  // an invalid Gateway API backendRef: a cluster that does not exist (500 under gateway semantics)
  if (!dest?.host) return UNKNOWN_SERVICE_CLUSTER;
  const host = ctx.push.resolveHost(dest.host, ctx.vsNamespace);
  let port = dest?.port?.number;
  if (port === undefined) {
    // A single-port service's port; on a sidecar's route config istiod looks services up among
    // those with the route config's port, so there it is always that port.
    const service = ctx.gateway === 'mesh' && !ctx.grpc ? undefined : ctx.push.serviceFor(ctx.proxy, host);
    port = service && service.ports.length === 1 ? service.ports[0]!.port : ctx.port;
  }
  return outboundClusterName(port, dest?.subset || undefined, host);
}

/** The `route` action (cluster or weighted clusters, rewrite, timeout, retries, mirrors, hashing). */
export function buildRouteAction(route: HTTPRoute, match: HTTPMatchRequest | undefined, ctx: RouteBuildContext): JsonObject {
  const action: JsonObject = {};
  const dests = (route.route ?? []).filter((d) => (route.route!.length === 1 ? true : (d.weight ?? 0) > 0));
  if (dests.length === 1) {
    action.cluster = destinationCluster(dests[0]!.destination, ctx);
  } else if (dests.length > 1) {
    const weights = normalizeWeights(dests.map((d) => d.weight ?? 0));
    action.weightedClusters = {
      clusters: dests.map((d, i) => ({
        name: destinationCluster(d.destination, ctx),
        weight: weights[i],
        ...headerOptions(d.headers),
      })),
      ...(ctx.grpc ? { totalWeight: 100 } : {}),
    };
  }
  if (route.rewrite?.uri !== undefined) {
    if (ctx.gatewaySemantics && route.rewrite.uri === '/' && match?.uri?.prefix !== undefined && match.uri.prefix !== '/') {
      // ReplacePrefixMatch "/" drops the whole prefix and keeps one slash (istiod's regex rewrite)
      action.regexRewrite = { pattern: { regex: `^${match.uri.prefix.replace(/\/+$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/?)(.*)` }, substitution: '/\\2' };
    } else if (match?.uri?.regex !== undefined) action.regexRewrite = { pattern: { regex: match.uri.regex }, substitution: route.rewrite.uri };
    else action.prefixRewrite = route.rewrite.uri;
  } else if (route.rewrite?.uriRegexRewrite?.match !== undefined) {
    action.regexRewrite = { pattern: { regex: route.rewrite.uriRegexRewrite.match }, substitution: route.rewrite.uriRegexRewrite.rewrite ?? '' };
  }
  if (route.rewrite?.authority) action.hostRewriteLiteral = route.rewrite.authority;
  if (ctx.gatewaySemantics) action.clusterNotFoundResponseCode = 'INTERNAL_SERVER_ERROR';
  const timeout = duration(route.timeout);
  if (ctx.grpc) {
    if (timeout) action.maxStreamDuration = { maxStreamDuration: timeout, grpcTimeoutHeaderMax: timeout };
  } else {
    action.timeout = timeout ?? '0s';
    // As istiod: gRPC requests are bounded by their own grpc-timeout, capped like HTTP's timeout.
    action.maxGrpcTimeout = timeout ?? '0s';
  }
  const hash = destinationHashPolicy(dests[0]?.destination, ctx);
  const retry = retryPolicy(route.retries, ctx.grpc, hash !== undefined);
  if (retry) action.retryPolicy = retry;
  const mirrors = mirrorPolicies(route, ctx);
  if (mirrors.length > 0) action.requestMirrorPolicies = mirrors;
  if (hash) action.hashPolicy = [hash];
  return action;
}

/** Scale weights to sum exactly 100 (Istio validates that; be robust anyway). */
export function normalizeWeights(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 100) return weights;
  if (total === 0) {
    const each = Math.floor(100 / weights.length);
    return weights.map((_, i) => (i === 0 ? 100 - each * (weights.length - 1) : each));
  }
  const scaled = weights.map((w) => Math.floor((w * 100) / total));
  scaled[0]! += 100 - scaled.reduce((a, b) => a + b, 0);
  return scaled;
}

function retryPolicy(retries: HTTPRetry | undefined, grpc: boolean, consistentHash: boolean): JsonObject | undefined {
  if (!retries) return grpc ? undefined : defaultRetryPolicy(consistentHash);
  if (!retries.attempts) return undefined; // attempts 0 disables retries
  const out: JsonObject = { numRetries: retries.attempts };
  // as Istio's ConvertPolicy: the default policy with overrides; a retryOn replaces its conditions and codes
  const on = (retries.retryOn || DEFAULT_RETRY_ON).split(',').map((s) => s.trim()).filter(Boolean);
  const codes = on.filter((s) => /^\d+$/.test(s)).map(Number);
  const policies = on.filter((s) => !/^\d+$/.test(s));
  if (codes.length > 0 && !policies.includes('retriable-status-codes')) policies.push('retriable-status-codes');
  out.retryOn = policies.join(',');
  if (codes.length > 0) out.retriableStatusCodes = codes;
  const perTry = duration(retries.perTryTimeout);
  if (perTry) out.perTryTimeout = perTry;
  const backoff = duration(retries.backoff);
  if (backoff) out.retryBackOff = { baseInterval: backoff };
  return grpc ? out : { ...out, ...hostSelection(consistentHash) };
}

function mirrorPolicies(route: HTTPRoute, ctx: RouteBuildContext): JsonObject[] {
  const out: JsonObject[] = [];
  const legacyPercent = route.mirrorPercentage?.value ?? route.mirrorPercent ?? route.mirror_percent;
  if (route.mirror) out.push(mirrorPolicy(destinationCluster(route.mirror, ctx), legacyPercent));
  for (const m of route.mirrors ?? []) out.push(mirrorPolicy(destinationCluster(m.destination, ctx), m.percentage?.value));
  return out;
}

function mirrorPolicy(cluster: string, percent: number | undefined): JsonObject {
  return { cluster, runtimeFraction: { defaultValue: fractionalPercent(percent ?? 100) }, traceSampled: false };
}

/** Route hash policy from the destination's DestinationRule consistentHash (ring hash LB). */
export function destinationHashPolicy(dest: Destination | undefined, ctx: RouteBuildContext): JsonObject | undefined {
  if (!dest?.host) return undefined;
  const host = ctx.push.resolveHost(dest.host, ctx.vsNamespace);
  const service = ctx.push.serviceFor(ctx.proxy, host);
  const dr = ctx.push.destinationRuleFor(ctx.proxy, { hostname: host, namespace: service?.namespace ?? ctx.vsNamespace });
  if (!dr) return undefined;
  const port = dest.port?.number ?? ctx.port;
  const subset = dr.spec.subsets?.find((s) => s.name === dest.subset);
  const policies = [subset?.trafficPolicy, dr.spec.trafficPolicy];
  let ch: ConsistentHashLB | undefined;
  for (const p of policies) {
    const portLevel = p?.portLevelSettings?.find((s) => s.port?.number === port)?.loadBalancer;
    ch = portLevel?.consistentHash ?? (portLevel ? undefined : p?.loadBalancer?.consistentHash);
    if (ch || portLevel || p?.loadBalancer) break;
  }
  if (!ch) return undefined;
  if (ch.httpHeaderName) return { header: { headerName: ch.httpHeaderName } };
  if (ch.httpCookie?.name) {
    const ttl = duration(ch.httpCookie.ttl);
    return { cookie: { name: ch.httpCookie.name, ...(ttl ? { ttl } : {}), ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}) } };
  }
  if (ch.useSourceIp) return { connectionProperties: { sourceIp: true } };
  if (ch.httpQueryParameterName) return { queryParameter: { name: ch.httpQueryParameterName } };
  return undefined;
}
