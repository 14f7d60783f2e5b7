import { HeaderList } from '../http1/header-list.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { LocalReply } from './http-filter.ts';
import type { PathRedirect, PATH_REJECTED } from './path-normalizer.ts';
import type { Route } from './route-table.ts';

/** Envoy's local reply bodies for its response flags (what an Envoy client would see). */
export const LOCAL_REPLY = Object.freeze({
  noRoute: { status: 404, body: '', flag: 'NR', details: 'route_not_found' },
  clusterNotFound: { status: 503, body: '', flag: 'NC', details: 'cluster_not_found' },
  noHealthyUpstream: { status: 503, body: 'no healthy upstream', flag: 'UH', details: 'no_healthy_upstream' },
  overflow: { status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow', flag: 'UO', details: 'upstream_reset_before_response_started{overflow}' },
  connectFailure: { status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure', flag: 'UF', details: 'upstream_reset_before_response_started{connection_failure}' },
  connectionTermination: { status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination', flag: 'UC', details: 'upstream_reset_before_response_started{connection_termination}' },
  timeout: { status: 504, body: 'upstream request timeout', flag: 'UT', details: 'upstream_response_timeout' },
  faultAbort: { status: 503, body: 'fault filter abort', flag: 'FI', details: 'fault_filter_abort' },
  badRequest: { status: 400, body: 'Bad Request', flag: 'DPE', details: 'http1.codec_error' },
  streamIdleTimeout: { status: 408, body: 'stream timeout', flag: 'SI', details: 'stream_idle_timeout' },
  headersTooLarge: { status: 431, body: 'Request Header Fields Too Large', flag: 'DPE', details: 'http1.headers_too_large' },
  tooManyHeaders: { status: 431, body: 'Request Header Fields Too Large', flag: 'DPE', details: 'http1.too_many_headers' },
  absolutePath: { status: 404, body: '', details: 'absolute_path' },
  pathNormalizationFailed: { status: 400, body: '', details: 'path_normalization_failed' },
});

/**
 * Envoy's answer when path normalization refuses a request (400) or asks for a redirect to the
 * normalized path (307, `location` is the path alone; gRPC clients get 400 as they cannot follow).
 */
export function pathVerdictReply(v: typeof PATH_REJECTED | PathRedirect, headers: HeaderList): LocalReply {
  if ('redirect' in v && !(headers.get('content-type') ?? '').startsWith('application/grpc')) {
    return { status: 307, body: '', headers: [['location', v.redirect]], details: 'path_normalization_failed' };
  }
  return LOCAL_REPLY.pathNormalizationFailed;
}

/** The `location` for a redirect route (Envoy's RedirectAction semantics). */
export function redirectLocation(
  r: { scheme: string | undefined; host: string | undefined; port: number | undefined; path: string | undefined; prefixRewrite: string | undefined; regexRewrite: { re: RegExp; substitution: string } | undefined; stripQuery: boolean },
  req: { scheme: string; authority: string; path: string },
  matchedPrefix: string | undefined,
): string {
  const scheme = r.scheme ?? req.scheme;
  let host = req.authority;
  let port = '';
  const c = host.lastIndexOf(':');
  if (c > 0 && host.indexOf(']') < c) {
    port = host.slice(c + 1);
    host = host.slice(0, c);
  }
  if (r.host !== undefined) host = r.host;
  if (r.port !== undefined) port = String(r.port);
  else if (r.scheme !== undefined) port = '';
  if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) port = '';
  const q = req.path.indexOf('?');
  let path = q < 0 ? req.path : req.path.slice(0, q);
  let query = q < 0 ? '' : req.path.slice(q);
  if (r.path !== undefined) {
    const rq = r.path.indexOf('?');
    if (rq >= 0) {
      query = r.path.slice(rq);
      path = r.path.slice(0, rq);
    } else path = r.path;
  } else if (r.prefixRewrite !== undefined && matchedPrefix !== undefined) {
    path = r.prefixRewrite + path.slice(matchedPrefix.length);
  } else if (r.regexRewrite) {
    path = path.replace(r.regexRewrite.re, r.regexRewrite.substitution);
  }
  if (r.stripQuery) query = '';
  return `${scheme}://${host}${port ? `:${port}` : ''}${path}${query}`;
}

/** Headers of a local reply: given headers, content type/length, date, route response headers, server. */
export function localReplyHeaders(r: LocalReply, body: string, hcm: HcmConfig, route: Route | undefined): HeaderList {
  const h = new HeaderList();
  if (r.headers) for (const [k, v] of r.headers) h.add(k, v);
  if (body.length > 0 && !h.has('content-type')) h.add('content-type', 'text/plain');
  h.set('content-length', String(Buffer.byteLength(body)));
  h.add('date', new Date().toUTCString());
  if (route) {
    route.responseHeaders.apply(h);
    route.virtualHost.responseHeaders.apply(h);
  }
  if (hcm.serverHeader !== 'PASS_THROUGH') h.set('server', hcm.serverName);
  return h;
}
