import type { CorsPolicy, HTTPFaultInjection, HTTPRedirect, Headers, HeaderOperations } from '../../api/istio/virtual-service.ts';
import { EXT, duration, fractionalPercent, type JsonObject } from './envoy-extensions.ts';
import { stringMatcher } from './route-matches.ts';

/** Header manipulation (`headers.request/response`) as Envoy route/weighted-cluster fields. */
export function headerOptions(headers: Headers | undefined): JsonObject {
  const out: JsonObject = {};
  const req = headerValues(headers?.request);
  const res = headerValues(headers?.response);
  if (req.length > 0) out.requestHeadersToAdd = req;
  if (headers?.request?.remove?.length) out.requestHeadersToRemove = [...headers.request.remove];
  if (res.length > 0) out.responseHeadersToAdd = res;
  if (headers?.response?.remove?.length) out.responseHeadersToRemove = [...headers.response.remove];
  return out;
}

function headerValues(ops: HeaderOperations | undefined): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [key, value] of Object.entries(ops?.set ?? {})) out.push({ header: { key, value }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  for (const [key, value] of Object.entries(ops?.add ?? {})) out.push({ header: { key, value }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' });
  return out;
}

/** envoy.filters.http.fault per-route config for an Istio fault. */
export function faultConfig(fault: HTTPFaultInjection): JsonObject | undefined {
  const out: JsonObject = { '@type': EXT.fault.type };
  const delay = fault.delay;
  if (delay && (delay.fixedDelay || delay.exponentialDelay)) {
    const fixed = duration(delay.fixedDelay ?? delay.exponentialDelay);
    if (fixed) out.delay = { fixedDelay: fixed, percentage: fractionalPercent(delay.percentage?.value ?? delay.percent ?? 100) };
  }
  const abort = fault.abort;
  if (abort && (abort.httpStatus !== undefined || abort.grpcStatus !== undefined)) {
    const a: JsonObject = { percentage: fractionalPercent(abort.percentage?.value ?? 100) };
    if (abort.httpStatus !== undefined) a.httpStatus = abort.httpStatus;
    else a.grpcStatus = grpcStatusCode(abort.grpcStatus!);
    out.abort = a;
  }
  return out.delay || out.abort ? out : undefined;
}

const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

function grpcStatusCode(s: string): number {
  const i = GRPC_CODES.indexOf(s.toUpperCase());
  return i >= 0 ? i : /^\d+$/.test(s) ? Number(s) : 2;
}

/** envoy.filters.http.cors per-route CorsPolicy. */
export function corsConfig(cors: CorsPolicy): JsonObject {
  const origins = [...(cors.allowOrigins ?? []).map((m) => stringMatcher(m)).filter((m): m is JsonObject => m !== undefined), ...(cors.allowOrigin ?? []).map((o) => ({ exact: o }))];
  const out: JsonObject = { '@type': EXT.corsPolicy.type, allowOriginStringMatch: origins, filterEnabled: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } } };
  if (cors.allowMethods?.length) out.allowMethods = cors.allowMethods.join(',');
  if (cors.allowHeaders?.length) out.allowHeaders = cors.allowHeaders.join(',');
  if (cors.exposeHeaders?.length) out.exposeHeaders = cors.exposeHeaders.join(',');
  const maxAge = duration(cors.maxAge);
  if (maxAge) out.maxAge = String(Math.round(Number(maxAge.slice(0, -1))));
  if (cors.allowCredentials !== undefined) out.allowCredentials = cors.allowCredentials;
  if (cors.unmatchedPreflights === 'IGNORE') out.forwardNotMatchingPreflights = false;
  return out;
}

const REDIRECT_CODES: Record<number, string> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };

/** Envoy RedirectAction for an Istio HTTPRedirect. */
export function redirectAction(r: HTTPRedirect): JsonObject {
  const out: JsonObject = {};
  if (r.uri !== undefined) out.pathRedirect = r.uri;
  else if (r.prefixRewrite !== undefined) out.prefixRewrite = r.prefixRewrite;
  if (r.authority) out.hostRedirect = r.authority;
  if (r.port) out.portRedirect = r.port;
  if (r.scheme) out.schemeRedirect = r.scheme;
  out.responseCode = REDIRECT_CODES[r.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY';
  return out;
}
