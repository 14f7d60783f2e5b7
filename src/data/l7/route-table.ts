import { asArray, asNumber, asObj, asString, durationMs, fractionalPercent, wrapped, wrappedBool, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileRegex } from '../matchers/string-matcher.ts';
import { compileHeaderMatcher, compileQueryMatcher, type HeaderMatch, type QueryMatch } from './header-matcher.ts';
import { HeaderMutation } from './header-mutation.ts';
import { compileRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import type { HeaderList } from '../http1/header-list.ts';

/** What route matching looks at. */
export interface RouteRequest {
  method: string;
  /** request target: path plus query */
  path: string;
  authority: string;
  scheme: string;
  headers: HeaderList;
}

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

export interface Route {
  name: string;
  virtualHost: VirtualHost;
  matches(req: RouteRequest): boolean;
  /** The literal prefix this route matched on (for prefix_rewrite). */
  matchPrefix: string | undefined;
  matchPathSeparated: boolean;
  matchRegex: RegExp | undefined;
  action: ForwardAction | RedirectAction | DirectAction;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  /** typed_per_filter_config merged: virtual host, then route (route wins). */
  perFilterConfig: ReadonlyMap<string, Obj>;
}

export interface VirtualHost {
  name: string;
  domains: readonly string[];
  routes: readonly Route[];
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  includeAttemptCount: boolean;
  includeAttemptCountInResponse: boolean;
  retry: RetryPolicy | undefined;
  requireTls: boolean;
}

const ROUTE_CONFIG_FIELDS = [
  'name', 'virtualHosts', 'requestHeadersToAdd', 'requestHeadersToRemove', 'responseHeadersToAdd', 'responseHeadersToRemove',
  'validateClusters', 'internalOnlyHeaders', 'maxDirectResponseBodySizeBytes', 'ignorePortInHostMatching',
  'typedPerFilterConfig', 'mostSpecificHeaderMutationsWins', 'ignorePathParametersInPathMatching', 'metadata',
];
const VHOST_FIELDS = [
  'name', 'domains', 'routes', 'requireTls', 'requestHeadersToAdd', 'requestHeadersToRemove', 'responseHeadersToAdd',
  'responseHeadersToRemove', 'typedPerFilterConfig', 'includeRequestAttemptCount', 'includeAttemptCountInResponse',
  'retryPolicy', 'metadata', 'cors',
];
const ROUTE_FIELDS = [
  'name', 'match', 'route', 'redirect', 'directResponse', 'metadata', 'decorator', 'typedPerFilterConfig',
  'requestHeadersToAdd', 'requestHeadersToRemove', 'responseHeadersToAdd', 'responseHeadersToRemove', 'tracing', 'statPrefix',
];
const MATCH_FIELDS = ['prefix', 'path', 'safeRegex', 'pathSeparatedPrefix', 'caseSensitive', 'headers', 'queryParameters', 'grpc', 'runtimeFraction'];
const ACTION_FIELDS = [
  'cluster', 'clusterHeader', 'weightedClusters', 'clusterNotFoundResponseCode', 'prefixRewrite', 'regexRewrite',
  'hostRewriteLiteral', 'autoHostRewrite', 'timeout', 'idleTimeout', 'retryPolicy', 'requestMirrorPolicies', 'hashPolicy',
  'maxStreamDuration', 'upgradeConfigs', 'priority', 'maxGrpcTimeout', 'grpcTimeoutOffset', 'internalRedirectPolicy', 'cors',
];

function perFilter(v: unknown): Map<string, Obj> {
  const m = new Map<string, Obj>();
  for (const [k, val] of Object.entries(asObj(v))) m.set(k, asObj(val));
  return m;
}

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** Query string → first value per name (lazily, only when a route has query matchers). */
function queryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  for (const pair of path.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    if (decodeURIComponentSafe(k) === name) return eq < 0 ? '' : decodeURIComponentSafe(pair.slice(eq + 1).replace(/\+/g, ' '));
  }
  return undefined;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function headerValueFor(req: RouteRequest, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* : */) {
    switch (name) {
      case ':method': return req.method;
      case ':path': return req.path;
      case ':authority': return req.authority;
      case ':scheme': return req.scheme;
      default: return undefined;
    }
  }
  return req.headers.getAll(name);
}

function compileMatch(m: unknown, path: string): Pick<Route, 'matches' | 'matchPrefix' | 'matchPathSeparated' | 'matchRegex'> {
  const o = asObj(m);
  onlyFields(o, path, MATCH_FIELDS);
  const caseSensitive = wrappedBool(o.caseSensitive) ?? true;
  let pathTest: (p: string) => boolean;
  let matchPrefix: string | undefined;
  let matchPathSeparated = false;
  let matchRegex: RegExp | undefined;
  if (typeof o.prefix === 'string') {
    const pre = caseSensitive ? o.prefix : o.prefix.toLowerCase();
    matchPrefix = o.prefix;
    pathTest = caseSensitive ? (p) => p.startsWith(pre) : (p) => p.toLowerCase().startsWith(pre);
  } else if (typeof o.path === 'string') {
    const want = caseSensitive ? o.path : o.path.toLowerCase();
    pathTest = caseSensitive ? (p) => stripQuery(p) === want : (p) => stripQuery(p).toLowerCase() === want;
  } else if (o.safeRegex !== undefined) {
    const re = compileRegex(asString(asObj(o.safeRegex).regex), `${path}.safeRegex.regex`);
    matchRegex = re;
    pathTest = (p) => re.test(stripQuery(p));
  } else if (typeof o.pathSeparatedPrefix === 'string') {
    const pre = o.pathSeparatedPrefix;
    if (pre.endsWith('/') || pre.includes('?')) reject(`${path}.pathSeparatedPrefix`, 'must not end with "/" or contain "?"');
    matchPrefix = pre;
    matchPathSeparated = true;
    const cmp = caseSensitive ? pre : pre.toLowerCase();
    pathTest = (p) => {
      const s = caseSensitive ? stripQuery(p) : stripQuery(p).toLowerCase();
      return s === cmp || (s.startsWith(cmp) && s.charCodeAt(cmp.length) === 47);
    };
  } else {
    // proto3: prefix "" is the default when no path specifier is given.
    matchPrefix = '';
    pathTest = () => true;
  }
  const headers: HeaderMatch[] = asArray(o.headers).map((h, i) => compileHeaderMatcher(h, `${path}.headers[${i}]`));
  const queries: QueryMatch[] = asArray(o.queryParameters).map((q, i) => compileQueryMatcher(q, `${path}.queryParameters[${i}]`));
  const grpc = o.grpc !== undefined;
  const fraction = o.runtimeFraction !== undefined ? fractionalPercent(asObj(o.runtimeFraction).defaultValue) : 1;
  const matches = (req: RouteRequest): boolean => {
    if (!pathTest(req.path)) return false;
    for (const h of headers) if (!h.test(headerValueFor(req, h.name))) return false;
    for (const q of queries) if (!q.test(queryValue(req.path, q.name))) return false;
    if (grpc && !(req.headers.get('content-type') ?? '').startsWith('application/grpc')) return false;
    if (fraction < 1 && Math.random() >= fraction) return false;
    return true;
  };
  return { matches, matchPrefix, matchPathSeparated, matchRegex };
}

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

function compileForward(a: Obj, path: string, vhostRetry: RetryPolicy | undefined): ForwardAction {
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
        perFilterConfig: perFilter(c.typedPerFilterConfig),
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
    idleTimeoutMs: durationMs(a.idleTimeout),
    retry: a.retryPolicy !== undefined ? compileRetryPolicy(a.retryPolicy, `${path}.retryPolicy`) : vhostRetry,
    hashPolicies: compileHashPolicies(a.hashPolicy, `${path}.hashPolicy`),
    mirrors,
    upgrades,
  };
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

function compileRedirect(r: Obj, path: string): RedirectAction {
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

function compileRoute(r: Obj, path: string, vh: VirtualHost, vhFilters: Map<string, Obj>): Route {
  onlyFields(r, path, ROUTE_FIELDS);
  const m = compileMatch(r.match, `${path}.match`);
  let action: Route['action'];
  if (r.route !== undefined) action = compileForward(asObj(r.route), `${path}.route`, vh.retry);
  else if (r.redirect !== undefined) action = compileRedirect(asObj(r.redirect), `${path}.redirect`);
  else if (r.directResponse !== undefined) {
    const d = asObj(r.directResponse);
    onlyFields(d, `${path}.directResponse`, ['status', 'body']);
    const body = asObj(d.body);
    const status = asNumber(d.status);
    if (status < 200 || status > 599) reject(`${path}.directResponse.status`, `status ${status} out of range 200-599`);
    action = { kind: 'direct', status, body: typeof body.inlineString === 'string' ? body.inlineString : typeof body.inlineBytes === 'string' ? Buffer.from(body.inlineBytes, 'base64').toString() : undefined };
  } else return reject(path, 'route needs one of route, redirect, direct_response');
  const filters = new Map(vhFilters);
  for (const [k, v] of perFilter(r.typedPerFilterConfig)) filters.set(k, v);
  return {
    name: asString(r.name),
    virtualHost: vh,
    ...m,
    action,
    requestHeaders: HeaderMutation.compile(r.requestHeadersToAdd, r.requestHeadersToRemove, `${path}.requestHeadersToAdd`),
    responseHeaders: HeaderMutation.compile(r.responseHeadersToAdd, r.responseHeadersToRemove, `${path}.responseHeadersToAdd`),
    perFilterConfig: filters,
  };
}

/**
 * A compiled RouteConfiguration: virtual host selection by :authority (exact, then `*.suffix`
 * longest first, then `prefix.*` longest first, then `*`), then first matching route.
 */
export class RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  readonly requestHeaders: HeaderMutation;
  readonly responseHeaders: HeaderMutation;
  private readonly exact = new Map<string, VirtualHost>();
  private readonly suffixes: { suffix: string; vh: VirtualHost }[] = [];
  private readonly prefixes: { prefix: string; vh: VirtualHost }[] = [];
  private catchAll: VirtualHost | undefined;
  private readonly ignorePort: boolean;

  constructor(config: Obj, path: string) {
    onlyFields(config, path, ROUTE_CONFIG_FIELDS);
    this.name = asString(config.name);
    this.ignorePort = config.ignorePortInHostMatching === true;
    this.requestHeaders = HeaderMutation.compile(config.requestHeadersToAdd, config.requestHeadersToRemove, `${path}.requestHeadersToAdd`);
    this.responseHeaders = HeaderMutation.compile(config.responseHeadersToAdd, config.responseHeadersToRemove, `${path}.responseHeadersToAdd`);
    const vhosts: VirtualHost[] = [];
    asArray(config.virtualHosts).forEach((v, i) => {
      const p = `${path}.virtualHosts[${i}]`;
      onlyFields(v, p, VHOST_FIELDS);
      if (v.cors !== undefined) reject(`${p}.cors`, 'use typed_per_filter_config envoy.filters.http.cors');
      const routes: Route[] = [];
      const vh: VirtualHost = {
        name: asString(v.name),
        domains: (v.domains as string[] | undefined) ?? [],
        routes,
        requestHeaders: HeaderMutation.compile(v.requestHeadersToAdd, v.requestHeadersToRemove, `${p}.requestHeadersToAdd`),
        responseHeaders: HeaderMutation.compile(v.responseHeadersToAdd, v.responseHeadersToRemove, `${p}.responseHeadersToAdd`),
        includeAttemptCount: v.includeRequestAttemptCount === true,
        includeAttemptCountInResponse: v.includeAttemptCountInResponse === true,
        retry: v.retryPolicy !== undefined ? compileRetryPolicy(v.retryPolicy, `${p}.retryPolicy`) : undefined,
        requireTls: v.requireTls === 'ALL' || v.requireTls === 'EXTERNAL_ONLY',
      };
      const vhFilters = perFilter(v.typedPerFilterConfig);
      asArray(v.routes).forEach((r, j) => routes.push(compileRoute(r, `${p}.routes[${j}]`, vh, vhFilters)));
      if (vh.domains.length === 0) reject(`${p}.domains`, 'virtual host needs at least one domain');
      for (const d of vh.domains) this.addDomain(d.toLowerCase(), vh, `${p}.domains`);
      vhosts.push(vh);
    });
    this.virtualHosts = vhosts;
    this.suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  private addDomain(d: string, vh: VirtualHost, path: string): void {
    const dup = (): never => reject(path, `domain "${d}" appears in more than one virtual host`);
    if (d === '*') {
      if (this.catchAll) dup();
      this.catchAll = vh;
    } else if (d.startsWith('*')) {
      if (this.suffixes.some((s) => s.suffix === d.slice(1))) dup();
      this.suffixes.push({ suffix: d.slice(1), vh });
    } else if (d.endsWith('*')) {
      if (this.prefixes.some((s) => s.prefix === d.slice(0, -1))) dup();
      this.prefixes.push({ prefix: d.slice(0, -1), vh });
    } else {
      if (this.exact.has(d)) dup();
      this.exact.set(d, vh);
    }
  }

  selectVirtualHost(authority: string): VirtualHost | undefined {
    let host = authority.toLowerCase();
    if (this.ignorePort) {
      const c = host.lastIndexOf(':');
      if (c > 0 && host.indexOf(']') < c) host = host.slice(0, c);
    }
    const e = this.exact.get(host);
    if (e) return e;
    for (const s of this.suffixes) if (host.length > s.suffix.length && host.endsWith(s.suffix)) return s.vh;
    for (const p of this.prefixes) if (host.length > p.prefix.length && host.startsWith(p.prefix)) return p.vh;
    return this.catchAll;
  }

  /** The route for a request, or undefined (Envoy: 404 with response flag NR). */
  route(req: RouteRequest): Route | undefined {
    const vh = this.selectVirtualHost(req.authority);
    if (!vh) return undefined;
    for (const r of vh.routes) if (r.matches(req)) return r;
    return undefined;
  }
}

/** Compile and validate one RouteConfiguration (throws ResourceRejection). */
export function compileRouteTable(config: Obj): RouteTable {
  return new RouteTable(config, `RouteConfiguration ${asString(config.name)}`);
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
