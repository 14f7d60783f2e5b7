import type { ParsedRequestHead } from './head-parser.ts';

/** How a parsed HTTP/1.x request continues: where it goes and how its body is delimited. */
export interface RequestFraming {
  /** `Host`, or the authority of an absolute-form target (which replaces it). */
  authority: string;
  /** Origin-form path and query (absolute-form targets reduced to it). */
  path: string;
  body: 'none' | 'length' | 'chunked';
  length: number;
}

/** A request Envoy's codec refuses, with its status and response code details; the connection closes. */
export interface FramingError {
  status: 400 | 426 | 501;
  details: string;
}

export interface FramingOptions {
  /** `http_protocol_options.accept_http_10` (else HTTP/1.0 gets 426, as Envoy). */
  acceptHttp10: boolean;
  /** `http_protocol_options.default_host_for_http_10`. */
  defaultHostForHttp10: string;
  /** `http_protocol_options.allow_chunked_length`: drop Content-Length beside chunked instead of 400. */
  allowChunkedLength: boolean;
}

const fail = (status: FramingError['status'], details: string): FramingError => ({ status, details });

/** Characters an authority may hold (nghttp2's check, as Envoy's codecs apply it). */
const AUTHORITY = /^[A-Za-z0-9\-._~%!$&'()*+,;=:@[\]]*$/;
const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;
const DIGITS = /^[0-9]{1,15}$/;

/**
 * Envoy's HTTP/1 codec and connection manager checks on a request head, in one pass over its
 * fields: HTTP/1.0 only when accepted (426), absolute-form targets (host taken from the target),
 * exactly one valid Host (400 otherwise; missing on HTTP/1.1 → 400), Content-Length digits only
 * and equal when repeated, Transfer-Encoding exactly `chunked` (501 otherwise) and never beside
 * Content-Length (400; request smuggling). `Host` is removed from the headers (it travels as the
 * authority); a Content-Length beside chunked is removed when that is allowed.
 */
export function frameRequest(head: ParsedRequestHead, opts: FramingOptions): RequestFraming | FramingError {
  if (head.versionMinor === 0 && !opts.acceptHttp10) return fail(426, 'low_version');
  const items = head.headers.items;
  let host: string | undefined;
  let hosts = 0;
  let cl: string | undefined;
  let cls = 0;
  let te: string | undefined;
  for (let i = 0; i < items.length; i += 2) {
    const n = items[i];
    if (n === 'host') {
      host = items[i + 1];
      hosts++;
    } else if (n === 'content-length') {
      const v = items[i + 1];
      if (!DIGITS.test(v)) return fail(400, 'http1.codec_error');
      if (cl !== undefined && Number(cl) !== Number(v)) return fail(400, 'http1.codec_error');
      cl = v;
      cls++;
    } else if (n === 'transfer-encoding') {
      te = te === undefined ? items[i + 1] : `${te},${items[i + 1]}`;
    }
  }
  if (hosts > 1 || (host !== undefined && !AUTHORITY.test(host))) return fail(400, 'http.invalid_authority');
  let authority = host;
  let path = head.target;
  if (path.charCodeAt(0) !== 47 && path !== '*' && head.method !== 'CONNECT') {
    const m = ABSOLUTE_FORM.exec(path);
    if (!m) return fail(400, 'http1.invalid_url');
    const scheme = m[1].toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') return fail(400, 'http1.invalid_scheme');
    // no userinfo (deprecated, RFC 9110 4.2.4): the authority must be the host the target names
    if (!AUTHORITY.test(m[2]) || m[2].includes('@')) return fail(400, 'http1.invalid_url');
    authority = m[2];
    path = m[3] === '' ? '/' : m[3].charCodeAt(0) === 47 ? m[3] : `/${m[3]}`;
  }
  if (authority === undefined) {
    if (head.versionMinor === 1) return fail(400, 'missing_host_header');
    authority = opts.defaultHostForHttp10;
  }
  if (hosts > 0) head.headers.remove('host');
  if (te !== undefined) {
    if (cl !== undefined) {
      if (!opts.allowChunkedLength || te.trim().toLowerCase() !== 'chunked') return fail(400, 'http1.content_length_and_chunked_not_allowed');
      head.headers.remove('content-length');
    }
    if (te.toLowerCase() !== 'chunked' || head.method === 'CONNECT') return fail(501, 'http1.invalid_transfer_encoding');
    return { authority, path, body: 'chunked', length: 0 };
  }
  if (cl !== undefined) {
    if (cls > 1) head.headers.set('content-length', cl); // repeated with one value: forwarded once
    const length = Number(cl);
    return { authority, path, body: length > 0 ? 'length' : 'none', length };
  }
  return { authority, path, body: 'none', length: 0 };
}
