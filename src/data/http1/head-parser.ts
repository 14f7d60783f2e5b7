import { HeaderList } from './header-list.ts';

/** Index just past the `\r\n\r\n` ending a message head in `buf` (searching from `from`), or -1. */
export function findHeadEnd(buf: Buffer, from = 0): number {
  const i = buf.indexOf('\r\n\r\n', Math.max(0, from - 3), 'latin1');
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

function parseHeaderLines(lines: string[], start: number, out: string[]): string | undefined {
  for (let i = start; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const c = line.indexOf(':');
    if (c <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 40))}`;
    const name = line.slice(0, c);
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name.slice(0, 40))}`;
    out.push(name.toLowerCase(), line.slice(c + 1).trim());
  }
  return undefined;
}

/** Parse a request head (`end` from findHeadEnd). Returns an error string on malformed input. */
export function parseRequestHead(buf: Buffer, end: number): ParsedRequestHead | string {
  const text = buf.toString('latin1', 0, end - 4);
  const lines = text.split('\r\n');
  const rl = lines[0];
  const s1 = rl.indexOf(' ');
  const s2 = rl.lastIndexOf(' ');
  if (s1 <= 0 || s2 <= s1) return 'malformed request line';
  const method = rl.slice(0, s1);
  const target = rl.slice(s1 + 1, s2);
  const version = rl.slice(s2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return `unsupported protocol version ${JSON.stringify(version.slice(0, 20))}`;
  if (!TOKEN.test(method)) return 'invalid method';
  const items: string[] = [];
  const err = parseHeaderLines(lines, 1, items);
  if (err) return err;
  return { method, target, versionMinor: version === 'HTTP/1.1' ? 1 : 0, headers: new HeaderList(items) };
}

export function parseResponseHead(buf: Buffer, end: number): ParsedResponseHead | string {
  const text = buf.toString('latin1', 0, end - 4);
  const lines = text.split('\r\n');
  const sl = lines[0];
  if (!sl.startsWith('HTTP/1.')) return 'malformed status line';
  const status = Number(sl.slice(9, 12));
  if (!(status >= 100 && status <= 999)) return 'malformed status code';
  const items: string[] = [];
  const err = parseHeaderLines(lines, 1, items);
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
