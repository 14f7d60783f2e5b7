import { parseGrpcTimeout } from '../../lib/grpc-wire/grpc-timeout.ts';
import { asArray, asNumber, asObj, asString, durationMs, fractionalPercent, wrapped, wrappedBool, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { HeaderMutation } from './header-mutation.ts';
import { compileRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { perFilterConfig } from './per-filter-config.ts';
import type { HeaderList } from '../http1/header-list.ts';

export type HashPolicy =
  | { kind: 'header'; name: string; terminal: boolean }
  | { kind: 'cookie'; name: string; terminal: boolean; ttlMs: number | undefined; path: string }
  | { kind: 'sourceIp'; terminal: boolean }
  | { kind: 'query'; name: string; terminal: boolean };

export interface WeightedCluster {
  name: string;
  weight: number;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  perFilterConfig: ReadonlyMap<string, Obj>;
}

export interface ForwardAction {
  kind: 'route';
  cluster: string | undefined;
  clusterHeader: string | undefined;
  weighted: readonly WeightedCluster[] | undefined;
  totalWeight: number;
  clusterNotFoundCode: number;
  prefixRewrite: string | undefined;
  regexRewrite: { re: RegExp; substitution: string } | undefined;
  hostRewrite: string | undefined;
  autoHostRewrite: boolean;
  timeoutMs: number;
  /** max_grpc_timeout: gRPC requests take their grpc-timeout (capped by this when > 0) instead of `timeoutMs`. */
  maxGrpcTimeoutMs: number | undefined;
  idleTimeoutMs: number | undefined;
  retry: RetryPolicy | undefined;
  hashPolicies: readonly HashPolicy[];
  mirrors: readonly { cluster: string; fraction: number }[];
  upgrades: ReadonlySet<string>;
}

export interface RedirectAction {
  kind: 'redirect';
  scheme: string | undefined;
  host: string | undefined;
  port: number | undefined;
  path: string | undefined;
  prefixRewrite: string | undefined;
  regexRewrite: { re: RegExp; substitution: string } | undefined;
  status: number;
  stripQuery: boolean;
}

export interface DirectAction {
  kind: 'direct';
  status: number;
  body: string | undefined;
}

const ACTION_FIELDS = [
  'cluster', 'clusterHeader', 'weightedClusters', 'clusterNotFoundResponseCode', 'prefixRewrite', 'regexRewrite',
  'hostRewriteLiteral', 'autoHostRewrite', 'timeout', 'idleTimeout', 'retryPolicy', 'requestMirrorPolicies', 'hashPolicy',
  'maxStreamDuration', 'upgradeConfigs', 'priority', 'maxGrpcTimeout', 'grpcTimeoutOffset', 'internalRedirectPolicy', 'cors',
];

function compileRewriteRegex(v: unknown, path: string): { re: RegExp; substitution: string } | undefined {
  if (v === undefined) return undefined;
  const o = asObj(v);
  const pattern = asString(asObj(o.pattern).regex);
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'g');
  } catch (err) {
    return reject(`${path}.pattern.regex`, `invalid regex: ${(err as Error).message}`);
  }
  // RE2 substitutions use \1; JS uses $1.
  return { re, substitution: asString(o.substitution).replace(/\\(\d)/g, '$$$1') };
}

function compileHashPolicies(v: unknown, path: string): HashPolicy[] {
  return asArray(v).map((h, i) => {
    const p = `${path}[${i}]`;
    onlyFields(h, p, ['header', 'cookie', 'connectionProperties', 'queryParameter', 'terminal', 'filterState']);
    const terminal = h.terminal === true;
    if (h.header !== undefined) return { kind: 'header', name: asString(asObj(h.header).headerName).toLowerCase(), terminal };
    if (h.cookie !== undefined) {
      const c = asObj(h.cookie);
      onlyFields(c, `${p}.cookie`, ['name', 'ttl', 'path', 'attributes']);
      return { kind: 'cookie', name: asString(c.name), terminal, ttlMs: c.ttl === undefined ? undefined : durationMs(c.ttl), path: asString(c.path) };
    }
    if (h.connectionProperties !== undefined) return { kind: 'sourceIp', terminal };
    if (h.queryParameter !== undefined) return { kind: 'query', name: asString(asObj(h.queryParameter).name), terminal };
    return reject(p, 'unsupported hash policy');
  });
}

/** Compile and validate a RouteAction (throws ResourceRejection); the virtual host's retry policy is the default. */
export function compileForwardAction(a: Obj, path: string, vhostRetry: RetryPolicy | undefined): ForwardAction {
  onlyFields(a, path, ACTION_FIELDS);
  let weighted: WeightedCluster[] | undefined;
  let totalWeight = 0;
  if (a.weightedClusters !== undefined) {
    const wc = asObj(a.weightedClusters);
    onlyFields(wc, `${path}.weightedClusters`, ['clusters', 'totalWeight', 'runtimeKeyPrefix']);
    weighted = asArray(wc.clusters).map((c, i) => {
      const p = `${path}.weightedClusters.clusters[${i}]`;
      onlyFields(c, p, ['name', 'weight', 'requestHeadersToAdd', 'requestHeadersToRemove', 'responseHeadersToAdd', 'responseHeadersToRemove', 'typedPerFilterConfig', 'metadataMatch', 'hostRewriteLiteral']);
      if (c.metadataMatch !== undefined) reject(`${p}.metadataMatch`, 'subset load balancing is not supported');
      return {
        name: asString(c.name),
        weight: wrapped(c.weight) ?? 0,
        requestHeaders: HeaderMutation.compile(c.requestHeadersToAdd, c.requestHeadersToRemove, `${p}.requestHeadersToAdd`),
        responseHeaders: HeaderMutation.compile(c.responseHeadersToAdd, c.responseHeadersToRemove, `${p}.responseHeadersToAdd`),
        perFilterConfig: perFilterConfig(c.typedPerFilterConfig),
      };
    });
    totalWeight = weighted.reduce((s, c) => s + c.weight, 0);
    if (weighted.length === 0 || totalWeight <= 0) reject(`${path}.weightedClusters`, 'needs clusters with a positive total weight');
  }
  const cluster = typeof a.cluster === 'string' ? a.cluster : undefined;
  const clusterHeader = typeof a.clusterHeader === 'string' ? a.clusterHeader.toLowerCase() : undefined;
  if (!cluster && !clusterHeader && !weighted) reject(path, 'route action needs cluster, cluster_header or weighted_clusters');
  const mirrors = asArray(a.requestMirrorPolicies).map((m, i) => {
    onlyFields(m, `${path}.requestMirrorPolicies[${i}]`, ['cluster', 'runtimeFraction', 'traceSampled']);
    return { cluster: asString(m.cluster), fraction: m.runtimeFraction === undefined ? 1 : fractionalPercent(asObj(m.runtimeFraction).defaultValue) };
  });
  const upgrades = new Set<string>();
  for (const u of asArray(a.upgradeConfigs)) if (wrappedBool(u.enabled) !== false) upgrades.add(asString(u.upgradeType).toLowerCase());
  const timeout = durationMs(a.timeout);
  const maxStream = durationMs(asObj(a.maxStreamDuration).maxStreamDuration);
  return {
    kind: 'route',
    cluster,
    clusterHeader,
    weighted,
    totalWeight,
    clusterNotFoundCode: a.clusterNotFoundResponseCode === 'NOT_FOUND' ? 404 : a.clusterNotFoundResponseCode === 'INTERNAL_SERVER_ERROR' ? 500 : 503,
    prefixRewrite: typeof a.prefixRewrite === 'string' ? a.prefixRewrite : undefined,
    regexRewrite: compileRewriteRegex(a.regexRewrite, `${path}.regexRewrite`),
    hostRewrite: typeof a.hostRewriteLiteral === 'string' ? a.hostRewriteLiteral : undefined,
    autoHostRewrite: wrappedBool(a.autoHostRewrite) === true,
    timeoutMs: timeout ?? maxStream ?? 15_000,
    maxGrpcTimeoutMs: durationMs(a.maxGrpcTimeout),
    idleTimeoutMs: durationMs(a.idleTimeout),
    retry: a.retryPolicy !== undefined ? compileRetryPolicy(a.retryPolicy, `${path}.retryPolicy`) : vhostRetry,
    hashPolicies: compileHashPolicies(a.hashPolicy, `${path}.hashPolicy`),
    mirrors,
    upgrades,
  };
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

/** Compile and validate a RedirectAction (throws ResourceRejection). */
export function compileRedirectAction(r: Obj, path: string): RedirectAction {
  onlyFields(r, path, ['httpsRedirect', 'schemeRedirect', 'hostRedirect', 'portRedirect', 'pathRedirect', 'prefixRewrite', 'regexRewrite', 'responseCode', 'stripQuery']);
  return {
    kind: 'redirect',
    scheme: r.httpsRedirect === true ? 'https' : typeof r.schemeRedirect === 'string' ? r.schemeRedirect : undefined,
    host: typeof r.hostRedirect === 'string' ? r.hostRedirect : undefined,
    port: r.portRedirect !== undefined ? asNumber(r.portRedirect) : undefined,
    path: typeof r.pathRedirect === 'string' ? r.pathRedirect : undefined,
    prefixRewrite: typeof r.prefixRewrite === 'string' ? r.prefixRewrite : undefined,
    regexRewrite: compileRewriteRegex(r.regexRewrite, `${path}.regexRewrite`),
    status: REDIRECT_CODES[asString(r.responseCode, 'MOVED_PERMANENTLY')] ?? 301,
    stripQuery: r.stripQuery === true,
  };
}

/** The cluster a forward action sends this request to (weighted pick, header or fixed name). */
export function pickCluster(action: ForwardAction, headers: HeaderList): { name: string | undefined; weighted: WeightedCluster | undefined } {
  if (action.weighted) {
    let r = Math.random() * action.totalWeight;
    for (const w of action.weighted) {
      r -= w.weight;
      if (r < 0) return { name: w.name, weighted: w };
    }
    const last = action.weighted[action.weighted.length - 1];
    return { name: last.name, weighted: last };
  }
  if (action.clusterHeader) return { name: headers.get(action.clusterHeader), weighted: undefined };
  return { name: action.cluster, weighted: undefined };
}

/**
 * The upstream timeout for one request: a gRPC request (content-type application/grpc…) on a
 * route with max_grpc_timeout uses its grpc-timeout header (none: no timeout), capped by
 * max_grpc_timeout unless that is 0; everything else the route's timeout. 0 means none.
 */
export function requestTimeoutMs(action: Pick<ForwardAction, 'timeoutMs' | 'maxGrpcTimeoutMs'>, headers: { get(name: string): string | undefined }): number {
  if (action.maxGrpcTimeoutMs === undefined || !(headers.get('content-type') ?? '').startsWith('application/grpc')) return action.timeoutMs;
  const header = headers.get('grpc-timeout');
  const asked = header !== undefined ? parseGrpcTimeout(header) ?? 0 : 0;
  if (action.maxGrpcTimeoutMs === 0) return asked;
  return asked === 0 ? action.maxGrpcTimeoutMs : Math.min(asked, action.maxGrpcTimeoutMs);
}
