import { randomBytes, randomUUID } from 'node:crypto';
import { certificateSansOfDer } from '../../lib/certificate-info.ts';
import { hashKey } from '../upstream/load-balancer.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { FilterRequest } from './http-filter.ts';
import type { ForwardAction, WeightedCluster } from './route-action.ts';
import type { Route, RouteTable } from './route-table.ts';
import type { StreamInfo } from './stream-info.ts';

/** x-request-id, x-forwarded-for, x-forwarded-proto and x-forwarded-client-cert, as Envoy's HCM sets them. */
export function prepareRequestHeaders(req: FilterRequest, hcm: HcmConfig, info: StreamInfo): void {
  const h = req.headers;
  if (hcm.generateRequestId) {
    let id = h.get('x-request-id');
    if (id === undefined || (hcm.useRemoteAddress && !hcm.preserveExternalRequestId && !info.mtls)) {
      id = randomUUID();
      h.set('x-request-id', id);
    }
    info.requestId = id;
  } else info.requestId = h.get('x-request-id') ?? '';
  if (hcm.useRemoteAddress && !hcm.skipXffAppend) {
    const xff = h.get('x-forwarded-for');
    h.set('x-forwarded-for', xff ? `${xff},${info.downstreamRemoteAddress}` : info.downstreamRemoteAddress);
  }
  if (hcm.useRemoteAddress || !h.has('x-forwarded-proto')) h.set('x-forwarded-proto', req.scheme);
  switch (hcm.forwardClientCert) {
    case 'SANITIZE': h.remove('x-forwarded-client-cert'); break;
    case 'SANITIZE_SET':
    case 'APPEND_FORWARD':
      if (info.mtls && info.peerPrincipal) {
        const v = (info.xfccElement ??= xfccElement(hcm, info));
        const prev = hcm.forwardClientCert === 'APPEND_FORWARD' ? h.get('x-forwarded-client-cert') : undefined;
        h.set('x-forwarded-client-cert', prev ? `${prev},${v}` : v);
      } else if (hcm.forwardClientCert === 'SANITIZE_SET') h.remove('x-forwarded-client-cert');
      break;
    default: break;
  }
}

/** Route-level header mutations (weighted cluster, route, virtual host, route config), rewrites, attempt count. */
export function applyRouteRequest(req: FilterRequest, route: Route, action: ForwardAction, weighted: WeightedCluster | undefined, table: RouteTable | undefined): void {
  const h = req.headers;
  weighted?.requestHeaders.apply(h);
  route.requestHeaders.apply(h);
  route.virtualHost.requestHeaders.apply(h);
  table?.requestHeaders.apply(h);
  if (action.prefixRewrite !== undefined && route.matchPrefix !== undefined) {
    req.path = action.prefixRewrite + req.path.slice(route.matchPrefix.length);
    if (req.path === '' || req.path.charCodeAt(0) !== 47) req.path = `/${req.path}`;
  } else if (action.regexRewrite) {
    const q = req.path.indexOf('?');
    const p = q < 0 ? req.path : req.path.slice(0, q);
    req.path = p.replace(action.regexRewrite.re, action.regexRewrite.substitution) + (q < 0 ? '' : req.path.slice(q));
  }
  if (action.hostRewrite !== undefined) req.authority = action.hostRewrite;
  if (route.virtualHost.includeAttemptCount) h.set('x-envoy-attempt-count', '1');
  h.remove('x-envoy-expected-rq-timeout-ms');
  if (action.timeoutMs > 0) h.set('x-envoy-expected-rq-timeout-ms', String(action.timeoutMs));
}

/**
 * The consistent-hash key of a request from the route's hash policies (undefined: none applies).
 * A cookie policy with a TTL whose cookie is missing generates one, as Envoy does; the
 * `set-cookie` value for the response goes to `generated.setCookie`.
 */
export function routeHash(action: ForwardAction, req: FilterRequest, info: StreamInfo, generated?: { setCookie?: string }): number | undefined {
  let out: number | undefined;
  for (const p of action.hashPolicies) {
    let v: string | undefined;
    if (p.kind === 'header') v = req.headers.get(p.name);
    else if (p.kind === 'sourceIp') v = info.downstreamRemoteAddress;
    else if (p.kind === 'cookie') {
      const cookies = req.headers.getAll('cookie');
      if (cookies) for (const part of cookies.split(/;\s*/)) if (part.startsWith(`${p.name}=`)) v = part.slice(p.name.length + 1).replace(/^"(.*)"$/, '$1');
      if (v === undefined && p.ttlMs !== undefined && generated) {
        v = randomBytes(8).toString('hex');
        generated.setCookie = `${p.name}="${v}"${p.ttlMs > 0 ? `; Max-Age=${Math.floor(p.ttlMs / 1000)}` : ''}${p.path ? `; Path=${p.path}` : ''}; HttpOnly`;
      }
    } else if (p.kind === 'query') {
      const q = req.path.indexOf('?');
      if (q >= 0) for (const pair of req.path.slice(q + 1).split('&')) if (pair.startsWith(`${p.name}=`)) v = pair.slice(p.name.length + 1);
    }
    if (v === undefined) continue;
    const h = hashKey(v);
    out = out === undefined ? h : (Math.imul(out, 31) + h) >>> 0;
    if (p.terminal) break;
  }
  return out;
}

/** Response header mutations, server header, attempt count and request id, as Envoy applies them. */
export function finishResponseHeaders(
  headers: import('../http1/header-list.ts').HeaderList,
  hcm: HcmConfig,
  route: Route | undefined,
  weighted: WeightedCluster | undefined,
  table: RouteTable | undefined,
  attempts: number,
  requestId: string,
): void {
  if (route && route.action.kind === 'route') {
    weighted?.responseHeaders.apply(headers);
    route.responseHeaders.apply(headers);
    route.virtualHost.responseHeaders.apply(headers);
    table?.responseHeaders.apply(headers);
    if (route.virtualHost.includeAttemptCountInResponse) headers.set('x-envoy-attempt-count', String(Math.max(1, attempts)));
  }
  if (hcm.serverHeader === 'OVERWRITE' || (hcm.serverHeader === 'APPEND_IF_ABSENT' && !headers.has('server'))) headers.set('server', hcm.serverName);
  if (hcm.alwaysSetRequestIdInResponse && requestId) headers.set('x-request-id', requestId);
}

/**
 * This connection's XFCC element as Envoy writes it: `By=` our URI SAN, `Hash=` the SHA-256 of the
 * client certificate, then what set_current_client_cert_details asks for: `Subject="…"` (RFC 2253),
 * `URI=` the client's URI SAN, `DNS=` each DNS SAN.
 */
function xfccElement(hcm: HcmConfig, info: StreamInfo): string {
  const parts: string[] = [];
  if (info.localPrincipal) parts.push(`By=${info.localPrincipal}`);
  const cert = info.peerCertificate;
  if (cert?.fingerprint256) parts.push(`Hash=${cert.fingerprint256.replaceAll(':', '').toLowerCase()}`);
  if (hcm.setClientCert.subject) {
    const subject = Object.entries(cert?.subject ?? {}).reverse().flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${String(x).replace(/([,+"\\<>;])/g, '\\$1')}`));
    parts.push(`Subject="${subject.join(',')}"`);
  }
  if (hcm.setClientCert.uri) parts.push(`URI=${info.peerPrincipal}`);
  if (hcm.setClientCert.dns) for (const d of certificateSansOfDer(cert?.raw).dns) parts.push(`DNS=${d}`);
  return parts.join(';');
}
