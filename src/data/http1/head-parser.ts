import { headBytesClean } from './head-bytes.ts';
import { HeaderList } from './header-list.ts';

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** Index just past the `\r\n\r\n` ending a message head in `buf` (searching from `from`), or -1. */
export function findHeadEnd(buf: Buffer, from = 0): number {
  // a Buffer needle: no string conversion per call
  const i = buf.indexOf(HEAD_END, from > 3 ? from - 3 : 0);
  return i < 0 ? -1 : i + 4;
}

/** An LF not preceded by CR in `buf` (an incomplete head that uses bare LF line ends). */
export function hasBareLf(buf: Buffer): boolean {
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) if (i === 0 || buf[i - 1] !== 13) return true;
  return false;
}

export interface ParsedRequestHead {
  method: string;
  target: string;
  versionMinor: number;
  headers: HeaderList;
}

export interface ParsedResponseHead {
  status: number;
  reason: string;
  versionMinor: number;
  headers: HeaderList;
}

/** A head the parser refuses: 400 (malformed) or 431 (more header fields than allowed). */
export interface HeadError {
  readonly error: string;
  readonly status: 400 | 431;
}

const bad = (error: string): HeadError => ({ error, status: 400 });

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Request methods Envoy's HTTP/1 codec accepts (without `allow_custom_methods`). */
const METHODS: ReadonlySet<string> = new Set([
  'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'MERGE', 'MKACTIVITY', 'MKCALENDAR',
  'MKCOL', 'MOVE', 'MSEARCH', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT', 'REBIND', 'REPORT',
  'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE',
]);

/**
 * Bytes a message head may not hold: control characters other than HTAB, DEL, and CR or LF that
 * are not a CRLF pair (a bare LF is not a line end here, so a head with one is refused, not read
 * differently from a server that accepts it). `\r\n` followed by SP/HTAB is obs-fold (matched
 * too, handled apart).
 */
const HEAD_BAD = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n|\r\n[ \t]/;
const HEAD_BAD_NO_FOLD = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;

/** A request target holds visible ASCII only (no space, no control, no byte above 0x7E). */
const TARGET_BAD = /[^\x21-\x7e]/;

/**
 * The head text checked for forbidden bytes, with obs-fold (a line continued by SP/HTAB) unfolded
 * as Envoy does (the CRLF removed, the whitespace kept); a string is an error.
 */
function checkedHead(text: string): { text: string } | HeadError {
  const m = HEAD_BAD.exec(text);
  if (m === null) return { text };
  if (m[0].length !== 3) return bad(m[0] === '\n' || m[0] === '\r' ? 'bare CR or LF in the message head' : 'invalid character in the message head');
  const unfolded = text.replace(/\r\n(?=[ \t])/g, '');
  return HEAD_BAD_NO_FOLD.test(unfolded) ? bad('invalid character in the message head') : { text: unfolded };
}
/** The head as latin1 text, checked (fast path: headBytesClean) and unfolded, or why it is refused. */
function headText(buf: Buffer, end: number): string | HeadError {
  const text = buf.toString('latin1', 0, end - 4);
  if (headBytesClean(buf, end - 4)) return text;
  const checked = checkedHead(text);
  return 'error' in checked ? checked : checked.text;
}

/**
 * Header names as they usually arrive (lower case from HTTP/2-era clients and our own proxies,
 * capitalised from node:http, curl and browsers) mapped to their lower-case form: a hit skips the
 * token check and the lower-casing. A constant table, not a cache.
 */
const KNOWN_NAMES: ReadonlyMap<string, string> = new Map(
  [
    'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'user-agent', 'accept',
    'accept-encoding', 'accept-language', 'authorization', 'cookie', 'set-cookie', 'date', 'server', 'expect', 'upgrade',
    'cache-control', 'content-encoding', 'location', 'origin', 'referer', 'te', 'grpc-status', 'grpc-message',
    'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-client-cert', 'x-envoy-attempt-count',
    'x-envoy-upstream-service-time', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id',
    'x-envoy-decorator-operation', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'traceparent', 'tracestate',
  ].flatMap((n) => {
    const cap = n.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
    return [[n, n], [cap, n]] as [string, string][];
  }),
);

/** Optional whitespace around a field value (RFC 9110 OWS: SP and HTAB). */
const isOws = (c: number): boolean => c === 32 || c === 9;

/**
 * Header lines of `text` from `pos` (just after the start line's CRLF) into `out` as
 * [name, value, ...] with lower-case names and trimmed values, in one pass over the string (no
 * line array, no per-line copies). More than `maxFields` fields → 431. `text` has passed
 * checkedHead (no stray CR/LF, no obs-fold left).
 */
function parseHeaderLines(text: string, pos: number, out: string[], maxFields: number): HeadError | undefined {
  const len = text.length;
  const maxItems = maxFields * 2;
  while (pos < len) {
    let nl = text.indexOf('\r\n', pos);
    if (nl < 0) nl = len;
    if (nl === pos) return bad('empty line inside the header section');
    const c = text.indexOf(':', pos);
    if (c <= pos || c >= nl) return bad(`malformed header line ${JSON.stringify(text.slice(pos, nl).slice(0, 40))}`);
    const raw = text.slice(pos, c);
    let name = KNOWN_NAMES.get(raw);
    if (name === undefined) {
      if (!TOKEN.test(raw)) return bad(`invalid header name ${JSON.stringify(raw.slice(0, 40))}`);
      name = raw.toLowerCase();
    }
    let vs = c + 1;
    let ve = nl;
    while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
    if (out.length === maxItems) return { error: `more than ${maxFields} header fields`, status: 431 };
    out.push(name, text.slice(vs, ve));
    pos = nl + 2;
  }
  return undefined;
}

/**
 * Parse a request head (`end` from findHeadEnd) as Envoy's HTTP/1 codec reads it: method from
 * Envoy's list, one space on each side of a target of visible ASCII, HTTP/1.0 or HTTP/1.1, no
 * control characters or bare CR/LF anywhere, obs-fold unfolded, at most `maxFields` header fields.
 */
export function parseRequestHead(buf: Buffer, end: number, maxFields = 100): ParsedRequestHead | HeadError {
  const text = headText(buf, end);
  if (typeof text !== 'string') return text;
  const first = text.indexOf('\r\n');
  const rl = first < 0 ? text : text.slice(0, first);
  const s1 = rl.indexOf(' ');
  const s2 = rl.lastIndexOf(' ');
  if (s1 <= 0 || s2 <= s1 + 1) return bad('malformed request line');
  const method = rl.slice(0, s1);
  const target = rl.slice(s1 + 1, s2);
  const version = rl.slice(s2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return bad(`unsupported protocol version ${JSON.stringify(version.slice(0, 20))}`);
  if (!METHODS.has(method)) return bad(TOKEN.test(method) ? `unknown method ${JSON.stringify(method.slice(0, 20))}` : 'invalid method');
  if (TARGET_BAD.test(target)) return bad('invalid character in the request target');
  const items: string[] = [];
  const err = first < 0 ? undefined : parseHeaderLines(text, first + 2, items, maxFields);
  if (err) return err;
  return { method, target, versionMinor: version === 'HTTP/1.1' ? 1 : 0, headers: new HeaderList(items) };
}

/** Parse a response head; the same byte rules as requests (Envoy refuses invalid response header characters). */
export function parseResponseHead(buf: Buffer, end: number, maxFields = Number.MAX_SAFE_INTEGER / 2): ParsedResponseHead | HeadError {
  const text = headText(buf, end);
  if (typeof text !== 'string') return text;
  const first = text.indexOf('\r\n');
  const sl = first < 0 ? text : text.slice(0, first);
  if (!sl.startsWith('HTTP/1.')) return bad('malformed status line');
  const status = Number(sl.slice(9, 12));
  if (!(status >= 100 && status <= 999)) return bad('malformed status code');
  const items: string[] = [];
  const err = first < 0 ? undefined : parseHeaderLines(text, first + 2, items, maxFields);
  if (err) return err;
  return { status, reason: sl.slice(13), versionMinor: sl.charCodeAt(7) === 49 ? 1 : 0, headers: new HeaderList(items) };
}

const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect',
  308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Payload Too Large', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}
