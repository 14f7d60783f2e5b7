// httpbin (httpbin.org's request/response service) for Istio's samples and tasks, written here in
// Node: what `docker.io/mccutchen/go-httpbin` (samples/httpbin, port 8080) and
// `docker.io/kennethreitz/httpbin` (gunicorn on port 80) answer on the endpoints Istio's tasks
// use: /get, /headers, /ip, /user-agent, /status/CODE, /delay/N, /anything, /post|put|patch|delete,
// /uuid, /bytes/N. HTTP/1.1 and HTTP/2 (h2c prior knowledge) on one port.
//   --port N          listen port (default 8080)
//   --flavor go|python  go-httpbin (header values as lists) or python httpbin (strings); default go
//   --access-log      one gunicorn-style access log line per request on stdout
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { randomUUID } from 'node:crypto';

function flag(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === `--${name}` || a === `-${name}`);
  if (i < 0) return undefined;
  const next = args[i + 1];
  return next === undefined || next.startsWith('-') ? '' : next;
}

const port = Number(flag('port') ?? process.env.PORT ?? 8080);
const python = flag('flavor') === 'python';
const accessLog = flag('access-log') !== undefined;

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/** Go's canonical header form (X-Ext-Authz-Check-Result), which both httpbins print. */
function canonical(name: string): string {
  return name.split('-').map((p) => (p ? p[0].toUpperCase() + p.slice(1).toLowerCase() : p)).join('-');
}

function headersOf(req: Req): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.startsWith(':')) continue;
    const key = canonical(name);
    if (python) out[key] = out[key] === undefined ? raw[i + 1] : `${String(out[key])},${raw[i + 1]}`;
    else out[key] = [...((out[key] as string[] | undefined) ?? []), raw[i + 1]];
  }
  if (req.httpVersionMajor === 2 && req.headers[':authority'] !== undefined) {
    const host = String(req.headers[':authority']);
    if (python) out.Host ??= host;
    else out.Host ??= [host];
  }
  return out;
}

function argsOf(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    if (python) out[k] = out[k] === undefined ? v : [...(Array.isArray(out[k]) ? out[k] : [out[k] as string]), v];
    else out[k] = [...((out[k] as string[] | undefined) ?? []), v];
  }
  return out;
}

function origin(req: Req): string {
  const xff = req.headers['x-forwarded-for'];
  const addr = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
  return xff ? `${String(xff).split(',')[0].trim()}` : addr;
}

function send(req: Req, res: Res, status: number, body: string | Buffer, type = 'application/json; charset=utf-8'): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const r = res as http.ServerResponse;
  r.writeHead(status, { 'content-type': type, 'content-length': String(buf.length), 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true' });
  if (req.method === 'HEAD') r.end();
  else r.end(buf);
  if (accessLog) logLine(req, status, buf.length);
}

function json(req: Req, res: Res, value: unknown, status = 200): void {
  send(req, res, status, `${JSON.stringify(value, null, 2)}\n`);
}

/** gunicorn's default access log format. */
function logLine(req: Req, status: number, size: number): void {
  const d = new Date();
  const mon = d.toLocaleString('en', { month: 'short', timeZone: 'UTC' });
  const p = (n: number): string => String(n).padStart(2, '0');
  const ts = `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
  const ua = String(req.headers['user-agent'] ?? '-');
  process.stdout.write(`${origin(req)} - - [${ts}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${status} ${size} "${String(req.headers.referer ?? '-')}" "${ua}"\n`);
}

function handle(req: Req, res: Res, body: Buffer): void {
  const url = new URL(req.url ?? '/', 'http://httpbin');
  const path = url.pathname;
  const base = { args: argsOf(url), headers: headersOf(req), origin: origin(req), url: `http://${String(req.headers.host ?? req.headers[':authority'] ?? 'httpbin')}${req.url}` };
  const withBody = (): Record<string, unknown> => {
    const text = body.toString();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { ...base, method: req.method, data: text, files: {}, form: {}, json: parsed };
  };
  let m: RegExpExecArray | null;
  if (path === '/' || path === '') return send(req, res, 200, '<!DOCTYPE html><html><body><h1>httpbin</h1><p>A simple HTTP request and response service.</p></body></html>\n', 'text/html; charset=utf-8');
  if (path === '/get') return json(req, res, python ? base : { ...base, method: req.method });
  if (path === '/headers') return json(req, res, { headers: base.headers });
  if (path === '/ip') return json(req, res, { origin: base.origin });
  if (path === '/user-agent') return json(req, res, { 'user-agent': req.headers['user-agent'] ?? '' });
  if (path === '/uuid') return json(req, res, { uuid: randomUUID() });
  if (['/post', '/put', '/patch', '/delete'].includes(path)) {
    if (req.method !== path.slice(1).toUpperCase()) return send(req, res, 405, '', 'text/plain');
    return json(req, res, withBody());
  }
  if (path === '/anything' || path.startsWith('/anything/')) return json(req, res, withBody());
  if ((m = /^\/status\/([\d,:.]+)$/.exec(path))) {
    const codes = m[1].split(',').map((c) => Number(c.split(':')[0]));
    const code = codes[Math.floor(Math.random() * codes.length)];
    return send(req, res, code, '', 'text/plain; charset=utf-8');
  }
  if ((m = /^\/delay\/(\d+(?:\.\d+)?)$/.exec(path))) {
    const seconds = Math.min(10, Number(m[1]));
    setTimeout(() => json(req, res, withBody()), seconds * 1000);
    return;
  }
  if ((m = /^\/bytes\/(\d+)$/.exec(path))) return send(req, res, 200, Buffer.alloc(Math.min(100 * 1024, Number(m[1])), 0x61), 'application/octet-stream');
  return send(req, res, 404, '404 page not found\n', 'text/plain; charset=utf-8');
}

function onRequest(req: Req, res: Res): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks)));
}

const h1 = http.createServer(onRequest);
const h2 = http2.createServer(onRequest);
const PREFACE = 'PRI * HTTP/2.0';

// One port for both: a connection opening with the HTTP/2 preface goes to the h2c server.
const server = net.createServer((socket) => {
  socket.once('readable', () => {
    const first = socket.read(Math.min(PREFACE.length, socket.readableLength)) as Buffer | null;
    if (!first) return socket.destroy();
    socket.unshift(first);
    (first.toString('latin1') === PREFACE.slice(0, first.length) && first.length > 2 ? h2 : h1).emit('connection', socket);
  });
});
server.listen(port, () => process.stdout.write(`httpbin listening on :${port}\n`));

function stop(): void {
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
