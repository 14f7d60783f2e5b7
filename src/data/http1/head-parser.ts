import { HeaderList } from './header-list.ts';

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** Index just past the `\r\n\r\n` ending a message head in `buf` (searching from `from`), or -1. */
export function findHeadEnd(buf: Buffer, from = 0): number {
  // a Buffer needle: no string conversion per call
  const i = buf.indexOf(HEAD_END, from > 3 ? from - 3 : 0);
  return i < 0 ? -1 : i + 4;
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

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

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

/** Whitespace String.prototype.trim removes, within latin1 (what a head is decoded as). */
const isTrimmed = (c: number): boolean => (c >= 9 && c <= 13) || c === 32 || c === 160;

/**
 * Header lines of `text` from `pos` (just after the start line's CRLF) into `out` as
 * [name, value, ...] with lower-case names and trimmed values, in one pass over the string (no
 * line array, no per-line copies). Empty lines are skipped.
 */
function parseHeaderLines(text: string, pos: number, out: string[]): string | undefined {
  const len = text.length;
  while (pos < len) {
    let nl = text.indexOf('\r\n', pos);
    if (nl < 0) nl = len;
    if (nl === pos) {
      pos += 2;
      continue;
    }
    const c = text.indexOf(':', pos);
    if (c <= pos || c >= nl) return `malformed header line ${JSON.stringify(text.slice(pos, nl).slice(0, 40))}`;
    const raw = text.slice(pos, c);
    let name = KNOWN_NAMES.get(raw);
    if (name === undefined) {
      if (!TOKEN.test(raw)) return `invalid header name ${JSON.stringify(raw.slice(0, 40))}`;
      name = raw.toLowerCase();
    }
    let vs = c + 1;
    let ve = nl;
    while (vs < ve && isTrimmed(text.charCodeAt(vs))) vs++;
    while (ve > vs && isTrimmed(text.charCodeAt(ve - 1))) ve--;
    out.push(name, text.slice(vs, ve));
    pos = nl + 2;
  }
  return undefined;
}

/** Parse a request head (`end` from findHeadEnd). Returns an error string on malformed input. */
export function parseRequestHead(buf: Buffer, end: number): ParsedRequestHead | string {
  const text = buf.toString('latin1', 0, end - 4);
  const first = text.indexOf('\r\n');
  const rl = first < 0 ? text : text.slice(0, first);
  const s1 = rl.indexOf(' ');
  const s2 = rl.lastIndexOf(' ');
  if (s1 <= 0 || s2 <= s1) return 'malformed request line';
  const method = rl.slice(0, s1);
  const target = rl.slice(s1 + 1, s2);
  const version = rl.slice(s2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return `unsupported protocol version ${JSON.stringify(version.slice(0, 20))}`;
  if (!TOKEN.test(method)) return 'invalid method';
  const items: string[] = [];
  const err = first < 0 ? undefined : parseHeaderLines(text, first + 2, items);
  if (err) return err;
  return { method, target, versionMinor: version === 'HTTP/1.1' ? 1 : 0, headers: new HeaderList(items) };
}

export function parseResponseHead(buf: Buffer, end: number): ParsedResponseHead | string {
  const text = buf.toString('latin1', 0, end - 4);
  const first = text.indexOf('\r\n');
  const sl = first < 0 ? text : text.slice(0, first);
  if (!sl.startsWith('HTTP/1.')) return 'malformed status line';
  const status = Number(sl.slice(9, 12));
  if (!(status >= 100 && status <= 999)) return 'malformed status code';
  const items: string[] = [];
  const err = first < 0 ? undefined : parseHeaderLines(text, first + 2, items);
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
