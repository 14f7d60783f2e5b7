import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

const H2 = { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } };
const FAST_BACKOFF = { baseInterval: { nanos: 1_000_000 } };

interface SeenRequest {
  authority: string;
  path: string;
  body: Buffer;
}

/** An h2c upstream that records every complete request; `delayFirst` requests wait before answering. */
class H2Upstream {
  readonly server = http2.createServer();
  port = 0;
  seen: SeenRequest[] = [];
  /** Requests that arrived (complete or not). */
  started = 0;
  delayFirst = 0;
  delayMs = 0;
  /** Upstream streams closed before their answer (cancelled by the proxy). */
  cancelled = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  async start(): Promise<this> {
    this.server.on('session', (s) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
    this.server.on('stream', (st, headers) => {
      const stream = st as http2.ServerHttp2Stream;
      this.started++;
      const chunks: Buffer[] = [];
      let answered = false;
      stream.on('close', () => {
        if (!answered) this.cancelled++;
      });
      stream.on('error', () => undefined);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const seen = { authority: String(headers[':authority']), path: String(headers[':path']), body: Buffer.concat(chunks) };
        this.seen.push(seen);
        const answer = (): void => {
          if (stream.closed) return;
          answered = true;
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(`len=${seen.body.length}`);
        };
        if (this.delayFirst > 0) {
          this.delayFirst--;
          const t = setTimeout(() => {
            this.timers.delete(t);
            answer();
          }, this.delayMs);
          this.timers.add(t);
        } else answer();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  trailers: http2.IncomingHttpHeaders | undefined;
}

function ask(session: http2.ClientHttp2Session, path: string, body?: Buffer | string, headers: http2.OutgoingHttpHeaders = {}): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path, ':authority': 'svc.example:8000', ...headers });
    let h: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (x) => (h = x));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status: Number(h[':status']), headers: h, body: Buffer.concat(chunks).toString(), trailers }));
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP/2 downstream: retries, per-try timeouts and mirroring (HTTP/1.1 and HTTP/2 upstreams)', () => {
  let h: Harness;
  let flaky: EchoServer;
  let slow: EchoServer;
  let good: EchoServer;
  let mirror: EchoServer;
  let h2: H2Upstream;
  let h2mirror: H2Upstream;
  let session: http2.ClientHttp2Session;

  before(async () => {
    flaky = await new EchoServer('flaky', (_req, _b, n) => (n % 3 !== 0 ? { status: 503 } : undefined)).start();
    slow = await new EchoServer('slow', (req) => ({ delayMs: Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0) })).start();
    good = await new EchoServer('good').start();
    mirror = await new EchoServer('mirror').start();
    h2 = await new H2Upstream().start();
    h2mirror = await new H2Upstream().start();
    h = await startHarness();
    const retry = (on: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ retryOn: on, numRetries: { value: 2 }, retryBackOff: FAST_BACKOFF, ...extra });
    await h.push({
      clusters: [
        staticCluster('flaky', [['127.0.0.1', flaky.port]]),
        staticCluster('slow', [['127.0.0.1', slow.port]]),
        staticCluster('good', [['127.0.0.1', good.port]]),
        staticCluster('mirror', [['127.0.0.1', mirror.port]]),
        staticCluster('h2', [['127.0.0.1', h2.port]], H2),
        staticCluster('h2mirror', [['127.0.0.1', h2mirror.port]], H2),
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/retry' }, { cluster: 'flaky', retryPolicy: retry('5xx') }),
        route({ prefix: '/pertry' }, { cluster: 'slow', timeout: { seconds: 5 }, retryPolicy: retry('gateway-error', { perTryTimeout: { nanos: 150_000_000 } }) }),
        route({ prefix: '/h2pertry' }, { cluster: 'h2', timeout: { seconds: 5 }, retryPolicy: retry('reset', { perTryTimeout: { nanos: 150_000_000 } }) }),
        route({ prefix: '/mirror' }, { cluster: 'good', requestMirrorPolicies: [{ cluster: 'mirror' }, { cluster: 'h2mirror' }] }),
        route({ prefix: '/h2mirror' }, { cluster: 'h2', requestMirrorPolicies: [{ cluster: 'h2mirror' }] }),
        route({ prefix: '/h2grpc' }, { cluster: 'h2', timeout: { seconds: 0 }, maxGrpcTimeout: { seconds: 0 } }),
        route({ prefix: '/h2' }, { cluster: 'h2' }),
        route({ prefix: '/' }, { cluster: 'good' }),
      ], { includeRequestAttemptCount: true, includeAttemptCountInResponse: true })])],
    });
    session = http2.connect(`http://127.0.0.1:${h.port('web')}`);
  });

  after(async () => {
    session?.close();
    await h.close();
    for (const s of [flaky, slow, good, mirror]) await s.stop();
    await h2.stop();
    await h2mirror.stop();
  });

  const idle = async (name: string): Promise<void> => {
    const c = h.proxy.clusters.get(name)!;
    await waitUntil(() => c.breaker.requests === 0 && c.hosts.every((x) => x.activeRequests === 0), `${name}: no request left accounted as active`);
  };

  it('retries 5xx from an HTTP/1.1 upstream and replays the POST body', async () => {
    flaky.count = 0;
    const r = await ask(session, '/retry', 'replay-me');
    assert.equal(r.status, 200, r.body);
    assert.equal(flaky.count, 3);
    assert.equal(r.headers['x-envoy-attempt-count'], '3');
    const e = JSON.parse(r.body) as EchoReply;
    assert.equal(e.body, 'replay-me');
    assert.equal(e.headers['x-envoy-attempt-count'], '3');
    await idle('flaky');
  });

  it('per-try timeout on an HTTP/1.1 upstream: the slow try is abandoned and retried; 504 UT when every try is slow', async () => {
    slow.count = 0;
    let n = 0;
    slow.behaviour = () => (++n === 1 ? { delayMs: 2000 } : undefined);
    const t0 = performance.now();
    const r = await ask(session, '/pertry', 'x');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-envoy-attempt-count'], '2');
    assert.ok(performance.now() - t0 < 1500, 'answered by the second try, not after the first one\'s delay');
    slow.behaviour = () => ({ delayMs: 2000 });
    const all = await ask(session, '/pertry');
    assert.equal(all.status, 504);
    assert.equal(all.body, 'upstream request timeout');
    await idle('slow');
    slow.behaviour = undefined;
  });

  it('per-try timeout on an HTTP/2 upstream: the slow stream is cancelled, the retry gets the whole body again', async () => {
    h2.seen = [];
    h2.cancelled = 0;
    h2.delayFirst = 1;
    h2.delayMs = 2000;
    const body = Buffer.alloc(20_000, 7);
    const r = await ask(session, '/h2pertry', body, { 'content-type': 'application/grpc' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'len=20000');
    assert.equal(r.trailers?.['grpc-status'], '0');
    assert.equal(r.headers['x-envoy-attempt-count'], '2');
    assert.equal(h2.seen.length, 2);
    assert.ok(h2.seen.every((s) => s.body.equals(body)));
    await waitUntil(() => h2.cancelled === 1, 'the timed-out upstream stream cancelled');
    await idle('h2');
  });

  it('forwards large bodies both ways with flow control (1 MiB to HTTP/1.1 and HTTP/2 upstreams)', async () => {
    const big = Buffer.alloc(1024 * 1024, 'b');
    const r1 = await ask(session, '/big', big);
    assert.equal(r1.status, 200);
    assert.equal((JSON.parse(r1.body) as EchoReply).body.length, big.length);
    const r2 = await ask(session, '/h2', big);
    assert.equal(r2.body, `len=${big.length}`);
    await idle('good');
    await idle('h2');
  });

  it('mirrors to HTTP/1.1 and HTTP/2 mirror clusters with a -shadow authority and the whole body', async () => {
    mirror.count = 0;
    h2mirror.seen = [];
    let shadow: { host: string; body: string } | undefined;
    mirror.behaviour = (req, b) => {
      shadow = { host: String(req.headers.host), body: b };
      return undefined;
    };
    const body = 'm'.repeat(100_000); // beyond the 64 KiB kept for retries
    const r = await ask(session, '/mirror', body);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as EchoReply).server, 'good');
    await waitUntil(() => mirror.count === 1 && h2mirror.seen.length === 1, 'both mirrors got the request');
    assert.equal(shadow?.host, 'svc.example-shadow:8000');
    assert.equal(shadow?.body, body);
    assert.equal(h2mirror.seen[0].authority, 'svc.example-shadow:8000');
    assert.equal(h2mirror.seen[0].body.toString(), body);
    h2mirror.seen = [];
    h2.seen = [];
    const g = await ask(session, '/h2mirror/x', undefined, { 'content-type': 'application/grpc' });
    assert.equal(g.trailers?.['grpc-status'], '0');
    await waitUntil(() => h2mirror.seen.length === 1, 'the gRPC request mirrored');
    assert.equal(h2mirror.seen[0].path, '/h2mirror/x');
    assert.equal(h2.seen[0].authority, 'svc.example:8000', 'the primary keeps its authority');
    mirror.behaviour = undefined;
  });

  it('a mirror that does not answer never holds up the request', async () => {
    h2mirror.delayFirst = 1;
    h2mirror.delayMs = 5000;
    h2mirror.seen = [];
    const t0 = performance.now();
    const r = await ask(session, '/h2mirror/slow', 'x');
    assert.equal(r.status, 200);
    assert.ok(performance.now() - t0 < 2000);
    await waitUntil(() => h2mirror.seen.length === 1, 'the mirror got the copy');
  });

  it("bounds a gRPC request over HTTP/2 by its grpc-timeout on a route with max_grpc_timeout 0s (istiod's routes)", async () => {
    h2.delayFirst = 1;
    h2.delayMs = 3000;
    const t0 = performance.now();
    const r = await ask(session, '/h2grpc/Svc/Call', 'x', { 'content-type': 'application/grpc', 'grpc-timeout': '200m' });
    assert.equal(r.status, 504);
    assert.ok(performance.now() - t0 < 2500, 'ended by the grpc-timeout, not by the upstream answering');
    await idle('h2');
  });

  it('a client reset cancels the upstream request and frees its accounting', async () => {
    h2.delayFirst = 1;
    h2.delayMs = 5000;
    h2.cancelled = 0;
    const before = h2.started;
    const req = session.request({ ':method': 'POST', ':path': '/h2/reset', ':authority': 'svc.example' });
    req.on('error', () => undefined);
    req.end('abc');
    await waitUntil(() => h2.started === before + 1, 'the request reached the upstream');
    req.close(http2.constants.NGHTTP2_CANCEL);
    await waitUntil(() => h2.cancelled === 1, 'the upstream stream cancelled');
    await idle('h2');
  });
});
