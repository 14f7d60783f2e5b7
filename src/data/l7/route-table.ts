import { asArray, asNumber, asObj, asString, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { HeaderMutation } from './header-mutation.ts';
import { compileRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { perFilterConfig } from './per-filter-config.ts';
import { compileRouteMatch, type RouteMatch, type RouteRequest } from './route-match.ts';
import { compileForwardAction, compileRedirectAction, type DirectAction, type ForwardAction, type RedirectAction } from './route-action.ts';

export interface Route extends RouteMatch {
  name: string;
  virtualHost: VirtualHost;
  action: ForwardAction | RedirectAction | DirectAction;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  /** typed_per_filter_config merged: virtual host, then route (route wins). */
  perFilterConfig: ReadonlyMap<string, Obj>;
  /** decorator.operation: the span name of requests this route serves. */
  operation: string | undefined;
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

function compileRoute(r: Obj, path: string, vh: VirtualHost, vhFilters: Map<string, Obj>): Route {
  onlyFields(r, path, ROUTE_FIELDS);
  const m = compileRouteMatch(r.match, `${path}.match`);
  let action: Route['action'];
  if (r.route !== undefined) action = compileForwardAction(asObj(r.route), `${path}.route`, vh.retry);
  else if (r.redirect !== undefined) action = compileRedirectAction(asObj(r.redirect), `${path}.redirect`);
  else if (r.directResponse !== undefined) {
    const d = asObj(r.directResponse);
    onlyFields(d, `${path}.directResponse`, ['status', 'body']);
    const body = asObj(d.body);
    const status = asNumber(d.status);
    if (status < 200 || status > 599) reject(`${path}.directResponse.status`, `status ${status} out of range 200-599`);
    action = { kind: 'direct', status, body: typeof body.inlineString === 'string' ? body.inlineString : typeof body.inlineBytes === 'string' ? Buffer.from(body.inlineBytes, 'base64').toString() : undefined };
  } else return reject(path, 'route needs one of route, redirect, direct_response');
  const filters = new Map(vhFilters);
  for (const [k, v] of perFilterConfig(r.typedPerFilterConfig)) filters.set(k, v);
  return {
    name: asString(r.name),
    virtualHost: vh,
    ...m,
    action,
    requestHeaders: HeaderMutation.compile(r.requestHeadersToAdd, r.requestHeadersToRemove, `${path}.requestHeadersToAdd`),
    responseHeaders: HeaderMutation.compile(r.responseHeadersToAdd, r.responseHeadersToRemove, `${path}.responseHeadersToAdd`),
    perFilterConfig: filters,
    operation: r.decorator !== undefined && typeof asObj(r.decorator).operation === 'string' ? (asObj(r.decorator).operation as string) : undefined,
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
      const vhFilters = perFilterConfig(v.typedPerFilterConfig);
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
