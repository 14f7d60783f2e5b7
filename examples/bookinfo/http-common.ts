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

/** After SIGTERM, stop once no request has come for this long (the lame-duck period). */
const QUIET_MS = 1000;
/** ...but never later than this after SIGTERM. */
const LAME_DUCK_MAX_MS = 15_000;

/**
 * Listen on PORT (default 9080) on all addresses; on SIGTERM stop as a server meant for
 * Kubernetes does. The kubelet signals a deleted pod while its endpoint is still being removed
 * from the clients' load balancers (EndpointSlice → discovery → every sidecar's EDS), so requests
 * keep arriving for a moment: keep serving until none has come for QUIET_MS (at most
 * LAME_DUCK_MAX_MS), then close the listener, let requests in flight finish and exit. Where the
 * pod was taken out of every proxy's endpoints before the signal (`mizzen up`'s rollouts), that
 * costs QUIET_MS. SIGINT stops at once.
 */
export function serve(name: string, handler: http.RequestListener): void {
  const port = Number(process.env.PORT ?? 9080);
  let inFlight = 0;
  let lastRequest = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    lastRequest = Date.now();
    res.once('close', () => {
      inFlight--;
      lastRequest = Date.now();
    });
    return handler(req, res);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(port, '0.0.0.0', () => process.stdout.write(`${name} listening on ${port}\n`));
  const stopNow = (): void => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  let stopping = false;
  const stopGracefully = (): void => {
    if (stopping) return;
    stopping = true;
    const signalled = Date.now();
    lastRequest = Math.max(lastRequest, signalled);
    const check = (): void => {
      const now = Date.now();
      if ((inFlight > 0 || now - lastRequest < QUIET_MS) && now - signalled < LAME_DUCK_MAX_MS) {
        setTimeout(check, 100);
        return;
      }
      // No new connections; idle keep-alive connections close now, busy ones after their response.
      server.close(() => process.exit(0));
      server.closeIdleConnections();
      setTimeout(stopNow, 5000).unref();
    };
    check();
  };
  process.on('SIGTERM', stopGracefully);
  process.on('SIGINT', stopNow);
}

/** The numeric product id at the end of a path, or undefined. */
export function productId(segment: string | undefined): number | undefined {
  if (segment === undefined || !/^\d+$/.test(segment)) return undefined;
  return Number(segment);
}
