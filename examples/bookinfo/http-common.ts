// Shared by the Bookinfo services: JSON replies, header propagation, a small HTTP client.
import http from 'node:http';

/** Headers Bookinfo propagates from an incoming request to the calls it makes (Istio's list). */
export const FORWARDED_HEADERS = [
  'x-request-id',
  'x-ot-span-context',
  'x-datadog-trace-id',
  'x-datadog-parent-id',
  'x-datadog-sampling-priority',
  'traceparent',
  'tracestate',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'sw8',
  'user-agent',
  'cookie',
  'authorization',
  'jwt',
  'end-user',
];

export function forwardedHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const v = req.headers[name];
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v)) out[name] = v.join(', ');
  }
  return out;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: http.ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface FetchResult {
  status: number;
  body: unknown;
}

// No keep-alive: like Python requests in Istio's productpage, each call is a new connection,
// so kube-proxy-style (per-connection) balancing spreads calls without a sidecar too.
const agent = new http.Agent({ keepAlive: false });

/** GET a JSON document with a timeout; network errors and timeouts resolve to status 0. */
export function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<FetchResult> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (an Envoy-style fault body, for instance)
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => resolve({ status: 0, body: undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: undefined }));
  });
}

/** Listen on PORT (default 9080) on all addresses and stop cleanly on SIGTERM. */
export function serve(name: string, handler: http.RequestListener): void {
  const port = Number(process.env.PORT ?? 9080);
  const server = http.createServer(handler);
  server.keepAliveTimeout = 30_000;
  server.listen(port, '0.0.0.0', () => process.stdout.write(`${name} listening on ${port}\n`));
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** The numeric product id at the end of a path, or undefined. */
export function productId(segment: string | undefined): number | undefined {
  if (segment === undefined || !/^\d+$/.test(segment)) return undefined;
  return Number(segment);
}
