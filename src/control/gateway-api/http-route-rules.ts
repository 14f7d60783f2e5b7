import type { StringMatch } from '../../api/istio/string-match.ts';
import type { Destination, HeaderOperations, HTTPMatchRequest, HTTPRoute, HTTPRouteDestination } from '../../api/istio/virtual-service.ts';
import type { BackendRef, GRPCRouteRule, HTTPHeaderMatch, HTTPRouteFilter, HTTPRouteMatch, HTTPRouteRule, HeaderModifier } from '../../api/gateway-api/gateway-api-types.ts';
import type { ReferenceGrants } from './reference-grants.ts';

/**
 * One HTTPRoute or GRPCRoute rule as Istio VirtualService `http` routes (istiod's
 * convertHTTPRoute / convertGRPCRoute): a rule with several matches becomes one route per match;
 * filters become headers, redirect, rewrite and mirrors; backendRefs become weighted
 * destinations (Service → its FQDN, Istio's `Hostname` kind → the host, an unresolvable or
 * unpermitted backend → an empty destination, which routes to the missing `UnknownService`
 * cluster and answers 500 as the Gateway API requires). Problems go to `problems`.
 */
export interface RuleContext {
  /** HTTPRoute or GRPCRoute. */
  kind: 'HTTPRoute' | 'GRPCRoute';
  namespace: string;
  routeName: string;
  domainSuffix: string;
  grants: ReferenceGrants;
  /** Hosts of a ServiceEntry by namespace/name (backendRefs of kind ServiceEntry). */
  serviceEntryHost: (namespace: string, name: string) => string | undefined;
  problems: string[];
}

function header(m: HTTPHeaderMatch): StringMatch {
  return m.type === 'RegularExpression' ? { regex: m.value } : { exact: m.value };
}

function headersOf(list: readonly HTTPHeaderMatch[] | undefined): Record<string, StringMatch> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, StringMatch> = {};
  for (const h of list) out[h.name.toLowerCase()] = header(h);
  return out;
}

function httpMatch(m: HTTPRouteMatch): HTTPMatchRequest {
  const out: HTTPMatchRequest = {};
  const path = m.path ?? { type: 'PathPrefix', value: '/' };
  const value = path.value ?? '/';
  if (path.type === 'Exact') out.uri = { exact: value };
  else if (path.type === 'RegularExpression') out.uri = { regex: value };
  else out.uri = { prefix: value };
  const headers = headersOf(m.headers);
  if (headers) out.headers = headers;
  const query = headersOf(m.queryParams);
  if (query) out.queryParams = Object.fromEntries((m.queryParams ?? []).map((q) => [q.name, header(q)]));
  if (m.method) out.method = { exact: m.method };
  return out;
}

function grpcMatch(m: NonNullable<GRPCRouteRule['matches']>[number]): HTTPMatchRequest {
  const out: HTTPMatchRequest = {};
  const method = m.method;
  if (method && (method.service || method.method)) {
    if (method.type === 'RegularExpression') out.uri = { regex: `/${method.service || '[^/]+'}/${method.method || '[^/]+'}` };
    else if (method.service && method.method) out.uri = { exact: `/${method.service}/${method.method}` };
    else if (method.service) out.uri = { prefix: `/${method.service}/` };
    else out.uri = { regex: `/[^/]+/${escapeRegex(method.method ?? '')}` };
  }
  const headers = headersOf(m.headers);
  if (headers) out.headers = headers;
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function headerOps(m: HeaderModifier | undefined): HeaderOperations | undefined {
  if (!m) return undefined;
  const out: HeaderOperations = {};
  if (m.set?.length) out.set = Object.fromEntries(m.set.map((h) => [h.name, h.value]));
  if (m.add?.length) out.add = Object.fromEntries(m.add.map((h) => [h.name, h.value]));
  if (m.remove?.length) out.remove = [...m.remove];
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A backendRef as an Istio destination; undefined host when invalid (the problem is recorded). */
export function backendDestination(ref: BackendRef, ctx: RuleContext): Destination {
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Service';
  const ns = ref.namespace ?? ctx.namespace;
  const port = ref.port !== undefined ? { port: { number: ref.port } } : {};
  if (group === '' && kind === 'Service') {
    if (!ctx.grants.allows(ctx.kind, ctx.namespace, 'Service', ns, ref.name)) {
      ctx.problems.push(`${ctx.kind} ${ctx.namespace}/${ctx.routeName}: backendRef ${ns}/${ref.name} is in another namespace and no ReferenceGrant allows it (RefNotPermitted)`);
      return {};
    }
    return { host: `${ref.name}.${ns}.svc.${ctx.domainSuffix}`, ...port };
  }
  if (group === 'networking.istio.io' && kind === 'Hostname') return { host: ref.name, ...port };
  if (group === 'networking.istio.io' && kind === 'ServiceEntry') {
    const host = ctx.serviceEntryHost(ns, ref.name);
    if (host) return { host, ...port };
    ctx.problems.push(`${ctx.kind} ${ctx.namespace}/${ctx.routeName}: backendRef ServiceEntry ${ns}/${ref.name} not found (BackendNotFound)`);
    return {};
  }
  ctx.problems.push(`${ctx.kind} ${ctx.namespace}/${ctx.routeName}: backendRef kind ${group ? `${group}/` : ''}${kind} is not supported (InvalidKind)`);
  return {};
}

function applyFilters(out: HTTPRoute, filters: readonly HTTPRouteFilter[] | undefined, ctx: RuleContext): void {
  for (const f of filters ?? []) {
    switch (f.type) {
      case 'RequestHeaderModifier': {
        const h = headerOps(f.requestHeaderModifier);
        if (h) out.headers = { ...out.headers, request: h };
        break;
      }
      case 'ResponseHeaderModifier': {
        const h = headerOps(f.responseHeaderModifier);
        if (h) out.headers = { ...out.headers, response: h };
        break;
      }
      case 'RequestRedirect': {
        const r = f.requestRedirect ?? {};
        out.redirect = {
          ...(r.scheme ? { scheme: r.scheme } : {}),
          ...(r.hostname ? { authority: r.hostname } : {}),
          ...(r.port !== undefined ? { port: r.port } : {}),
          redirectCode: r.statusCode ?? 302,
          ...(r.path?.type === 'ReplaceFullPath' ? { uri: r.path.replaceFullPath ?? '/' } : {}),
          ...(r.path?.type === 'ReplacePrefixMatch' ? { prefixRewrite: r.path.replacePrefixMatch ?? '/' } : {}),
        };
        break;
      }
      case 'URLRewrite': {
        const r = f.urlRewrite ?? {};
        out.rewrite = {
          ...(r.hostname ? { authority: r.hostname } : {}),
          ...(r.path?.type === 'ReplacePrefixMatch' ? { uri: r.path.replacePrefixMatch ?? '/' } : {}),
          ...(r.path?.type === 'ReplaceFullPath' ? { uriRegexRewrite: { match: '/.*', rewrite: r.path.replaceFullPath ?? '/' } } : {}),
        };
        break;
      }
      case 'RequestMirror': {
        const m = f.requestMirror;
        if (!m) break;
        const percent = m.percent ?? (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : undefined);
        (out.mirrors ??= []).push({ destination: backendDestination(m.backendRef, ctx), ...(percent !== undefined ? { percentage: { value: percent } } : {}) });
        break;
      }
      default:
        ctx.problems.push(`${ctx.kind} ${ctx.namespace}/${ctx.routeName}: filter type ${f.type} is not supported (UnsupportedValue)`);
        // an unsupported filter must not be skipped silently: the rule answers 500
        out.directResponse = { status: 500 };
    }
  }
}

function destinations(refs: readonly BackendRef[] | undefined, ctx: RuleContext): HTTPRouteDestination[] {
  const out: HTTPRouteDestination[] = [];
  for (const ref of refs ?? []) {
    const weight = ref.weight ?? 1;
    if (weight === 0 && (refs ?? []).length > 1) continue;
    const d: HTTPRouteDestination = { destination: backendDestination(ref, ctx), weight };
    for (const f of ref.filters ?? []) {
      const req = f.type === 'RequestHeaderModifier' ? headerOps(f.requestHeaderModifier) : undefined;
      const res = f.type === 'ResponseHeaderModifier' ? headerOps(f.responseHeaderModifier) : undefined;
      if (req) d.headers = { ...d.headers, request: req };
      if (res) d.headers = { ...d.headers, response: res };
    }
    out.push(d);
  }
  return out;
}

function ruleName(ctx: RuleContext, rule: { name?: string }, index: number): string {
  return rule.name ? rule.name : `${ctx.namespace}.${ctx.routeName}.${index}`;
}

function finish(out: HTTPRoute, refs: readonly BackendRef[] | undefined, ctx: RuleContext): HTTPRoute {
  if (out.redirect || out.directResponse) return out;
  const dests = destinations(refs, ctx);
  const total = dests.reduce((n, d) => n + (d.weight ?? 0), 0);
  if (dests.length === 0 || total === 0) {
    // no backend (or only zero weights): the Gateway API requires a 500
    return { ...out, directResponse: { status: 500 } };
  }
  if (dests.length === 1) {
    const { weight: _w, ...only } = dests[0]!;
    out.route = [only];
  } else out.route = dests;
  return out;
}

export function convertHttpRule(rule: HTTPRouteRule, index: number, ctx: RuleContext): HTTPRoute[] {
  const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [undefined];
  return matches.map((m) => {
    const out: HTTPRoute = { name: ruleName(ctx, rule, index) };
    if (m) out.match = [httpMatch(m)];
    applyFilters(out, rule.filters, ctx);
    if (rule.timeouts?.request) out.timeout = rule.timeouts.request;
    if (rule.timeouts?.backendRequest) out.retries = { attempts: 2, perTryTimeout: rule.timeouts.backendRequest };
    return finish(out, rule.backendRefs, ctx);
  });
}

export function convertGrpcRule(rule: GRPCRouteRule, index: number, ctx: RuleContext): HTTPRoute[] {
  const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [undefined];
  return matches.map((m) => {
    const out: HTTPRoute = { name: ruleName(ctx, rule, index) };
    if (m) {
      const match = grpcMatch(m);
      if (Object.keys(match).length > 0) out.match = [match];
    }
    applyFilters(out, rule.filters, ctx);
    return finish(out, rule.backendRefs, ctx);
  });
}

function uriLength(m: HTTPMatchRequest): number {
  const u = m.uri;
  return (u?.exact ?? u?.prefix ?? u?.regex ?? '').length;
}

/** Exact > Prefix > Regex (istiod's getURIRank). */
function uriRank(m: HTTPMatchRequest): number {
  const u = m.uri;
  return u?.exact !== undefined ? 3 : u?.prefix !== undefined ? 2 : u?.regex !== undefined ? 1 : -1;
}

/**
 * Gateway API precedence among the routes merged for one host (istiod's sortHTTPRoutes): routes
 * with matches before the catch-all; exact, then prefix, then regex paths; longer paths first;
 * then a method match, more header matches, more query matches. Stable otherwise (creation order).
 */
export function sortHttpRoutes(routes: HTTPRoute[]): HTTPRoute[] {
  return routes
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const ma = a.r.match?.[0];
      const mb = b.r.match?.[0];
      if (!ma || !mb) return !ma && !mb ? a.i - b.i : !ma ? 1 : -1;
      const rank = uriRank(mb) - uriRank(ma);
      if (rank !== 0) return rank;
      const len = uriLength(mb) - uriLength(ma);
      if (len !== 0) return len;
      const meth = (mb.method ? 1 : 0) - (ma.method ? 1 : 0);
      if (meth !== 0) return meth;
      const h = Object.keys(mb.headers ?? {}).length - Object.keys(ma.headers ?? {}).length;
      if (h !== 0) return h;
      const q = Object.keys(mb.queryParams ?? {}).length - Object.keys(ma.queryParams ?? {}).length;
      if (q !== 0) return q;
      return a.i - b.i;
    })
    .map((x) => x.r);
}
