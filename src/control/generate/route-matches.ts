import type { StringMatch } from '../../api/istio/string-match.ts';
import type { HTTPMatchRequest } from '../../api/istio/virtual-service.ts';
import { labelsMatch } from '../push/config-scope.ts';
import type { JsonObject } from './envoy-extensions.ts';

/** Who asks and where: decides which VirtualService match conditions apply. */
export interface MatchScope {
  /** `mesh` for sidecars and proxyless clients, `ns/name` for a gateway. */
  gateway: string;
  /** Port of the listener/route config being built. */
  port: number;
  proxyLabels: Readonly<Record<string, string>>;
  proxyNamespace: string;
  vsNamespace: string;
  /** Emit the header matcher forms every gRPC xDS client accepts (exact_match, ...). */
  grpc: boolean;
  /** Routes translated from the Gateway API (istiod's gateway semantics: path-separated prefixes, 500 for missing backends). */
  gatewaySemantics?: boolean;
}

/**
 * Does an Istio match apply to this proxy/listener at all? sourceLabels, sourceNamespace,
 * gateways and port are decided at generation time, not per request (as Istio does).
 */
export function matchApplies(match: HTTPMatchRequest, scope: MatchScope): boolean {
  if (match.port !== undefined && match.port !== 0 && match.port !== scope.port) return false;
  if (match.sourceLabels && Object.keys(match.sourceLabels).length > 0) {
    if (scope.gateway !== 'mesh' || !labelsMatch(match.sourceLabels, scope.proxyLabels)) return false;
  }
  if (match.sourceNamespace && match.sourceNamespace !== scope.proxyNamespace) return false;
  if (match.gateways && match.gateways.length > 0) {
    const resolved = match.gateways.map((g) => (g === 'mesh' || g.includes('/') ? g : `${scope.vsNamespace}/${g}`));
    if (!resolved.includes(scope.gateway)) return false;
  }
  return true;
}

/** Envoy RouteMatch for one Istio HTTPMatchRequest (undefined: match everything). */
export function buildRouteMatch(match: HTTPMatchRequest | undefined, grpc: boolean, gatewaySemantics = false): JsonObject {
  const out: JsonObject = {};
  const uri = match?.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.regex !== undefined) out.safeRegex = { regex: uri.regex };
  // the Gateway API's PathPrefix matches whole path segments (/foo matches /foo/bar, not /foobar)
  else if (gatewaySemantics && uri?.prefix !== undefined && uri.prefix !== '/') out.pathSeparatedPrefix = uri.prefix.replace(/\/+$/, '');
  else out.prefix = uri?.prefix ?? '/';
  // istiod states the case rule of every URI match
  if (uri) out.caseSensitive = match?.ignoreUriCase !== true;
  const headers: JsonObject[] = [];
  for (const [name, m] of Object.entries(match?.headers ?? {})) headers.push(headerMatcher(name.toLowerCase(), m, false, grpc));
  for (const [name, m] of Object.entries(match?.withoutHeaders ?? {})) headers.push(headerMatcher(name.toLowerCase(), m, true, grpc));
  if (match?.method) headers.push(headerMatcher(':method', match.method, false, grpc));
  if (match?.authority) headers.push(headerMatcher(':authority', match.authority, false, grpc));
  if (match?.scheme) headers.push(headerMatcher(':scheme', match.scheme, false, grpc));
  if (headers.length > 0) out.headers = headers;
  const query: JsonObject[] = [];
  for (const [name, m] of Object.entries(match?.queryParams ?? {})) {
    const sm = stringMatcher(m);
    query.push(sm ? { name, stringMatch: sm } : { name, presentMatch: true });
  }
  if (query.length > 0) out.queryParameters = query;
  return out;
}

/** Envoy StringMatcher for an Istio StringMatch; undefined for `{}` (presence). */
export function stringMatcher(m: StringMatch | undefined, ignoreCase = false): JsonObject | undefined {
  if (!m) return undefined;
  const ic = ignoreCase ? { ignoreCase: true } : {};
  if (m.exact !== undefined) return { exact: m.exact, ...ic };
  if (m.prefix !== undefined) return { prefix: m.prefix, ...ic };
  if (m.regex !== undefined) return { safeRegex: { regex: m.regex } };
  return undefined;
}

function headerMatcher(name: string, m: StringMatch, invert: boolean, grpc: boolean): JsonObject {
  const out: JsonObject = { name };
  if (grpc) {
    // The oneof forms older and newer gRPC clients (grpc-js-xds, C-core) all accept.
    if (m.exact !== undefined) out.exactMatch = m.exact;
    else if (m.prefix !== undefined) out.prefixMatch = m.prefix;
    else if (m.regex !== undefined) out.safeRegexMatch = { regex: m.regex };
    else out.presentMatch = true;
  } else {
    const sm = stringMatcher(m);
    if (sm) out.stringMatch = sm;
    else out.presentMatch = true;
  }
  if (invert) out.invertMatch = true;
  return out;
}
