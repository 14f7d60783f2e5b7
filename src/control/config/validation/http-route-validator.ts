import type { Destination, Headers, HTTPRoute, HTTPRouteDestination, RouteDestination } from '../../../api/istio/virtual-service.ts';
import type { StringMatch } from '../../../api/istio/string-match.ts';
import { validateSubsetName } from './destination-rule-validator.ts';
import { validateDuration, parseDurationNanos, NANOS_PER_SECOND } from './duration.ts';
import { validateWildcardDomain, isDNS1123Label } from './hosts.ts';
import { isAuthorityHeader, validateCorsHeaderName, validateHeaderNameOrJwtClaim, validateHeaderOperationName, validateHeaderValue, validateRequestHeaderOperationName } from './http-headers.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateLabels } from './labels.ts';
import { validatePort } from './ports.ts';
import { validateRegex } from './regexes.ts';
import { validateGatewayNames } from './gateway-names.ts';

/** One HTTP route of a VirtualService, as Istio's validateHTTPRoute. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']);
const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes',
  'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
const HTTP_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
  500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);
const GRPC_STATUS = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
]);

/** Regex validity of a StringMatch (uri: an empty prefix is allowed). */
export function validateStringMatchRegexp(sm: StringMatch | undefined, where: string): string | undefined {
  if (!sm || sm.regex === undefined) return undefined;
  if (sm.regex === '') return `"${where}": regex string match should not be empty`;
  return validateRegex(sm.regex, where);
}

export function validateStringMatch(sm: StringMatch | undefined, where: string): string | undefined {
  if (!sm) return undefined;
  if (sm.prefix !== undefined && sm.exact === undefined && sm.regex === undefined && sm.prefix === '') return `"${where}": prefix string match should not be empty`;
  return validateStringMatchRegexp(sm, where);
}

export function validateDestination(d: Destination | undefined, path: string, out: IssueList): void {
  if (!d) return;
  const host = d.host ?? '';
  if (host === '*') out.error(at(path, 'host'), `invalid destination host ${host}`);
  else out.check(at(path, 'host'), validateWildcardDomain(host));
  if (d.subset) out.check(at(path, 'subset'), validateSubsetName(d.subset));
  if (d.port) out.check(at(path, 'port.number'), validatePort(d.port.number ?? 0));
}

function validateHeaderOps(h: Headers | undefined, path: string, out: IssueList): void {
  if (!h) return;
  for (const [name, v] of Object.entries(h.request?.add ?? {})) {
    out.check(at(path, `request.add[${name}]`), validateRequestHeaderOperationName(name));
    out.check(at(path, `request.add[${name}]`), validateHeaderValue(v));
  }
  for (const [name, v] of Object.entries(h.request?.set ?? {})) {
    out.check(at(path, `request.set[${name}]`), validateRequestHeaderOperationName(name));
    out.check(at(path, `request.set[${name}]`), validateHeaderValue(v));
  }
  for (const name of h.request?.remove ?? []) out.check(at(path, 'request.remove'), validateHeaderOperationName(name));
  for (const [name, v] of Object.entries(h.response?.add ?? {})) {
    out.check(at(path, `response.add[${name}]`), validateHeaderOperationName(name));
    out.check(at(path, `response.add[${name}]`), validateHeaderValue(v));
  }
  for (const [name, v] of Object.entries(h.response?.set ?? {})) {
    out.check(at(path, `response.set[${name}]`), validateHeaderOperationName(name));
    out.check(at(path, `response.set[${name}]`), validateHeaderValue(v));
  }
  for (const name of h.response?.remove ?? []) out.check(at(path, 'response.remove'), validateHeaderOperationName(name));
}

function validateWeights(list: (HTTPRouteDestination | RouteDestination)[] | undefined, path: string, out: IssueList, gatewaySemantics: boolean): void {
  let total = 0;
  (list ?? []).forEach((w, i) => {
    const p = at(path, i);
    if (!w) {
      out.error(p, 'weight may not be nil');
      return;
    }
    if (!w.destination) out.error(at(p, 'destination'), 'destination is required');
    if ('headers' in w) validateHeaderOps((w as HTTPRouteDestination).headers, at(p, 'headers'), out);
    if (!gatewaySemantics) validateDestination(w.destination, at(p, 'destination'), out);
    const weight = w.weight ?? 0;
    if (weight < 0) out.error(at(p, 'weight'), `weight ${weight} < 0`);
    total += weight;
  });
  if ((list ?? []).length > 1 && total === 0) out.error(path, 'total destination weight = 0');
}

export function validateRouteDestinations(list: RouteDestination[] | undefined, path: string, out: IssueList, gatewaySemantics = false): void {
  validateWeights(list, path, out, gatewaySemantics);
}

function validatePercentage(value: number | undefined, path: string, out: IssueList): void {
  if (value === undefined) return;
  if (value < 0 || value > 100 || (value > 0 && value < 0.0001)) out.error(path, `percentage ${value} is neither 0.0, nor in range [0.0001, 100.0]`);
}

function validateFault(route: HTTPRoute, path: string, out: IssueList): void {
  const fault = route.fault;
  if (!fault) return;
  if (!fault.abort && !fault.delay) out.error(path, 'HTTP fault injection must have an abort and/or a delay');
  const abort = fault.abort;
  if (abort) {
    const p = at(path, 'abort');
    validatePercentage(abort.percentage?.value, at(p, 'percentage'), out);
    if (abort.grpcStatus !== undefined) {
      if (!GRPC_STATUS.has(abort.grpcStatus)) out.error(at(p, 'grpcStatus'), `gRPC status "${abort.grpcStatus}" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`);
    } else if (abort.http2Error !== undefined) out.error(at(p, 'http2Error'), 'HTTP/2 abort fault injection not supported yet');
    else if (abort.httpStatus !== undefined) {
      if (abort.httpStatus < 200 || abort.httpStatus > 600) out.error(at(p, 'httpStatus'), `HTTP status ${abort.httpStatus} is not in range 200-599`);
    } else out.warn(p, 'abort configured, but error type not set');
  }
  const delay = fault.delay;
  if (delay) {
    const p = at(path, 'delay');
    validatePercentage(delay.percentage?.value, at(p, 'percentage'), out);
    if (delay.percent !== undefined && (delay.percent < 0 || delay.percent > 100)) out.error(at(p, 'percent'), `percentage ${delay.percent} is not in range 0..100`);
    if (delay.fixedDelay !== undefined) out.check(at(p, 'fixedDelay'), validateDuration(delay.fixedDelay));
    else if (delay.exponentialDelay !== undefined) {
      out.check(at(p, 'exponentialDelay'), validateDuration(delay.exponentialDelay));
      out.error(at(p, 'exponentialDelay'), 'exponentialDelay not supported yet');
    }
  }
}

function validateCors(route: HTTPRoute, path: string, out: IssueList): void {
  const c = route.corsPolicy;
  if (!c) return;
  (c.allowOrigins ?? []).forEach((o, i) => {
    const p = at(at(path, 'allowOrigins'), i);
    const m = o?.exact ?? o?.prefix ?? o?.regex ?? '';
    if (m === '') out.error(p, `'${m}' is not a valid match type for CORS allow origins`);
    else out.check(p, validateStringMatchRegexp(o, 'corsPolicy.allowOrigins'));
  });
  for (const m of c.allowMethods ?? []) if (!METHODS.has(m)) out.error(at(path, 'allowMethods'), `"${m}" is not a supported HTTP method`);
  for (const h of c.allowHeaders ?? []) out.check(at(path, 'allowHeaders'), validateCorsHeaderName(h));
  for (const h of c.exposeHeaders ?? []) out.check(at(path, 'exposeHeaders'), validateCorsHeaderName(h));
  if (c.maxAge !== undefined) {
    out.check(at(path, 'maxAge'), validateDuration(c.maxAge));
    const n = parseDurationNanos(c.maxAge);
    if (n !== undefined && n % NANOS_PER_SECOND !== 0) out.error(at(path, 'maxAge'), 'max_age duration is accurate only to seconds precision');
  }
}

function validateRedirect(route: HTTPRoute, path: string, out: IssueList): void {
  const r = route.redirect;
  if (!r) return;
  const hasPort = r.port !== undefined || r.derivePort !== undefined;
  if (!r.uri && !r.authority && !hasPort && !r.scheme && !r.prefixRewrite) {
    out.error(path, 'redirect must specify URI, authority, scheme, or port');
    return;
  }
  if (r.uri && r.prefixRewrite) out.error(path, 'redirect may only contain one of URI or prefixRewrite');
  if (r.prefixRewrite !== undefined) {
    const bad = (route.match ?? []).some((m) => m?.uri && (m.uri.exact !== undefined || m.uri.regex !== undefined));
    if (bad) out.error(at(path, 'prefixRewrite'), 'prefix_rewrite redirect is only supported with prefix URI match (or no URI match)');
  }
  if (r.redirectCode && (r.redirectCode < 300 || r.redirectCode > 399)) {
    out.error(at(path, 'redirectCode'), `${r.redirectCode} is not a valid redirect code, must be 3xx`);
    return;
  }
  if (r.scheme && r.scheme !== 'http' && r.scheme !== 'https') {
    out.error(at(path, 'scheme'), 'invalid redirect scheme, must be "http" or "https"');
    return;
  }
  if ((r.port ?? 0) > 0) out.check(at(path, 'port'), validatePort(r.port));
}

function validateRewrite(route: HTTPRoute, path: string, out: IssueList): void {
  const rw = route.rewrite;
  if (rw) {
    if (rw.uri && rw.uriRegexRewrite) out.error(path, 'rewrite may only contain one of URI or UriRegexRewrite');
    else if (!rw.uri && !rw.uriRegexRewrite && !rw.authority) {
      out.error(path, 'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified');
    } else if (rw.uriRegexRewrite) {
      const rr = rw.uriRegexRewrite;
      if (!rr.match || !rr.rewrite) out.error(at(path, 'uriRegexRewrite'), 'UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be specified');
      else {
        const e = validateRegex(rr.match, 'HTTPRewrite.UriRegexRewrite.Match');
        if (e) out.error(at(path, 'uriRegexRewrite.match'), `UriRegexRewrite has errors\n${e}`);
      }
    }
  }
  // Authority may be rewritten in one place only.
  let current = rw?.authority ?? '';
  for (const ops of [route.headers?.request?.set, route.headers?.request?.add]) {
    for (const [k, v] of Object.entries(ops ?? {})) {
      if (!isAuthorityHeader(k)) continue;
      if (current !== '') {
        out.error('headers', `authority header cannot be set multiple times: have "${current}", attempting to set "${v}"`);
        return;
      }
      current = v;
    }
  }
}

export function validateHTTPRoute(route: HTTPRoute, path: string, delegate: boolean, out: IssueList, gatewaySemantics = false): void {
  // Conflicts between the route's actions.
  if (!delegate && route.delegate) {
    if (route.redirect) out.error(at(path, 'redirect'), `root HTTP route ${route.name ?? ''} must not specify redirect`);
    if (route.route) out.error(at(path, 'route'), `root HTTP route ${route.name ?? ''} must not specify route`);
  } else {
    if (delegate && route.delegate) out.error(at(path, 'delegate'), 'delegate HTTP route cannot contain delegate');
    if (route.redirect) {
      if (route.route?.length) out.error(path, 'HTTP route cannot contain both route and redirect');
      if (route.fault) out.error(path, 'HTTP route cannot contain both fault and redirect');
      if (route.rewrite) out.error(path, 'HTTP route rule cannot contain both rewrite and redirect');
      if (route.directResponse) out.error(path, 'HTTP route rule cannot contain both direct_response and redirect');
    } else if (route.directResponse) {
      if (route.route?.length) out.error(path, 'HTTP route cannot contain both route and direct_response');
      if (route.fault) out.error(path, 'HTTP route cannot contain both fault and direct_response');
      if (route.rewrite) out.error(path, 'HTTP route rule cannot contain both rewrite and direct_response');
    } else if (!route.route?.length) out.error(path, 'HTTP route, redirect or direct_response is required');
    if (route.mirror && route.mirrors?.length) out.error(path, 'HTTP route cannot contain both mirror and mirrors');
  }
  // Match requests.
  (route.match ?? []).forEach((m, i) => {
    if (!m) return;
    const p = at(at(path, 'match'), i);
    for (const [name, h] of Object.entries(m.headers ?? {})) {
      const hp = at(p, `headers[${name}]`);
      if (!h) out.error(hp, `header match ${name} cannot be null`);
      out.check(hp, validateHeaderNameOrJwtClaim(name));
      out.check(hp, validateStringMatch(h, 'headers'));
    }
    for (const [name, h] of Object.entries(m.withoutHeaders ?? {})) {
      const hp = at(p, `withoutHeaders[${name}]`);
      out.check(hp, validateHeaderNameOrJwtClaim(name));
      if (h && h.regex !== '*') out.check(hp, validateStringMatch(h, 'withoutHeaders'));
    }
    out.check(at(p, 'uri'), validateStringMatchRegexp(m.uri, 'uri'));
    out.check(at(p, 'scheme'), validateStringMatch(m.scheme, 'scheme'));
    out.check(at(p, 'method'), validateStringMatch(m.method, 'method'));
    out.check(at(p, 'authority'), validateStringMatch(m.authority, 'authority'));
    for (const [name, q] of Object.entries(m.queryParams ?? {})) out.check(at(p, `queryParams[${name}]`), validateStringMatch(q, 'queryParams'));
    if (m.port) out.check(at(p, 'port'), validatePort(m.port));
    validateLabels(m.sourceLabels, at(p, 'sourceLabels'), out);
    validateGatewayNames(m.gateways, at(p, 'gateways'), out);
    if (m.sourceNamespace && !isDNS1123Label(m.sourceNamespace)) out.error(at(p, 'sourceNamespace'), `sourceNamespace match ${m.sourceNamespace} is invalid`);
  });
  validateHeaderOps(route.headers, at(path, 'headers'), out);
  validateCors(route, at(path, 'corsPolicy'), out);
  validateFault(route, at(path, 'fault'), out);
  const mirrorPercent = route.mirrorPercent ?? route.mirror_percent;
  if (mirrorPercent !== undefined) {
    if (mirrorPercent > 100) out.error(at(path, 'mirrorPercent'), `mirror_percent must have a max value of 100 (it has ${mirrorPercent})`);
    out.warn(at(path, 'mirrorPercent'), 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead');
  }
  const mp = route.mirrorPercentage?.value;
  if (mp !== undefined) {
    if (mp > 100) out.error(at(path, 'mirrorPercentage'), `mirror_percentage must have a max value of 100 (it has ${mp.toFixed(6)})`);
    if (mp < 0) out.error(at(path, 'mirrorPercentage'), `mirror_percentage must have a min value of 0 (it has ${mp.toFixed(6)})`);
  }
  validateDestination(route.mirror, at(path, 'mirror'), out);
  (route.mirrors ?? []).forEach((m, i) => {
    const p = at(at(path, 'mirrors'), i);
    if (!m) out.error(p, 'mirror cannot be null');
    else if (!m.destination) out.error(at(p, 'destination'), 'destination is required for mirrors');
    else {
      validateDestination(m.destination, at(p, 'destination'), out);
      const v = m.percentage?.value;
      if (v !== undefined && v > 100) out.error(at(p, 'percentage'), `mirror percentage must have a max value of 100 (it has ${v.toFixed(6)})`);
      if (v !== undefined && v < 0) out.error(at(p, 'percentage'), `mirror percentage must have a min value of 0 (it has ${v.toFixed(6)})`);
    }
  });
  validateRedirect(route, at(path, 'redirect'), out);
  const dr = route.directResponse;
  if (dr) {
    const body = dr.body?.string ?? dr.body?.bytes ?? '';
    const size = dr.body?.bytes !== undefined ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body);
    if (size > 1024 * 1024) out.error(at(path, 'directResponse.body'), 'large direct_responses may impact control plane performance, must be less than 1MB');
    else if (size > 100 * 1024) out.warn(at(path, 'directResponse.body'), 'large direct_responses may impact control plane performance');
    const status = dr.status ?? 0;
    if (status < 200 || status > 600) out.error(at(path, 'directResponse.status'), `HTTP status ${status} is not in range 200-599`);
  }
  const retries = route.retries;
  if (retries) {
    const p = at(path, 'retries');
    const attempts = retries.attempts ?? 0;
    if (attempts < 0) out.error(at(p, 'attempts'), 'attempts cannot be negative');
    if (attempts === 0 && (retries.perTryTimeout !== undefined || retries.retryOn || retries.retryRemoteLocalities !== undefined)) {
      out.error(p, 'http retry policy configured when attempts are set to 0 (disabled)');
    }
    if (retries.perTryTimeout !== undefined) out.check(at(p, 'perTryTimeout'), validateDuration(retries.perTryTimeout));
    if (retries.backoff !== undefined) out.check(at(p, 'backoff'), validateDuration(retries.backoff));
    if (retries.retryOn) {
      for (const policy of retries.retryOn.split(',')) {
        const code = /^[+-]?\d+$/.test(policy) ? Number(policy) : NaN;
        if (!HTTP_STATUS.has(code) && !RETRY_ON.has(policy)) out.error(at(p, 'retryOn'), `"${policy}" is not a valid retryOn policy`);
      }
    }
  }
  validateRewrite(route, at(path, 'rewrite'), out);
  validateWeights(route.route, at(path, 'route'), out, gatewaySemantics);
  if (route.timeout !== undefined) out.check(at(path, 'timeout'), validateDuration(route.timeout));
}
