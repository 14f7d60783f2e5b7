import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CORS_POLICY, FAULT, httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

/** A port with nothing listening (bound then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe('retries, timeouts, faults, mirroring and CORS', () => {
  let h: Harness;
  let flaky: EchoServer;
  let slow: EchoServer;
  let good: EchoServer;
  let mirror: EchoServer;
  let port: number;
  let dead: number;

  before(async () => {
    flaky = await new EchoServer('flaky', (_req, _b, n) => (n % 3 !== 0 ? { status: 503 } : undefined)).start();
    slow = await new EchoServer('slow', (req) => ({ delayMs: Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0) })).start();
    good = await new EchoServer('good').start();
    mirror = await new EchoServer('mirror').start();
    dead = await deadPort();
    h = await startHarness();
    await h.push({
      clusters: [
        staticCluster('flaky', [['127.0.0.1', flaky.port]]),
        staticCluster('slow', [['127.0.0.1', slow.port]]),
        staticCluster('good', [['127.0.0.1', good.port]]),
        staticCluster('mirror', [['127.0.0.1', mirror.port]]),
        staticCluster('dead', [['127.0.0.1', dead]]),
        staticCluster('deadthengood', [['127.0.0.1', dead], ['127.0.0.1', good.port]]),
        { name: 'empty', type: 'STATIC', connectTimeout: { seconds: 1 }, loadAssignment: { clusterName: 'empty', endpoints: [] } },
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/retry' }, { cluster: 'flaky', retryPolicy: { retryOn: '5xx', numRetries: { value: 3 }, retryBackOff: { baseInterval: { nanos: 1_000_000 } } } }),
        route({ prefix: '/noretry' }, { cluster: 'flaky' }),
        route({ prefix: '/few' }, { cluster: 'flaky', retryPolicy: { retryOn: 'retriable-status-codes', retriableStatusCodes: [503], numRetries: { value: 1 }, retryBackOff: { baseInterval: { nanos: 1_000_000 } } } }),
        route({ prefix: '/timeout' }, { cluster: 'slow', timeout: { nanos: 200_000_000 } }),
        route({ prefix: '/pertry' }, { cluster: 'slow', timeout: { seconds: 5 }, retryPolicy: { retryOn: 'gateway-error', numRetries: { value: 2 }, perTryTimeout: { nanos: 100_000_000 } } }),
        route({ prefix: '/dead' }, { cluster: 'dead' }),
        route({ prefix: '/connectretry' }, { cluster: 'deadthengood', retryPolicy: { retryOn: 'connect-failure', numRetries: { value: 3 }, retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }] } }),
        route({ prefix: '/empty' }, { cluster: 'empty' }),
        route({ prefix: '/abort' }, { cluster: 'good' }, { typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, abort: { httpStatus: 418, percentage: { numerator: 100 } } } } }),
        route({ prefix: '/delay' }, { cluster: 'good' }, { typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, delay: { fixedDelay: { nanos: 150_000_000 }, percentage: { numerator: 100 } } } } }),
        route({ prefix: '/halfabort' }, { cluster: 'good' }, { typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, abort: { httpStatus: 500, percentage: { numerator: 50 } } } } }),
        route({ prefix: '/mirror' }, { cluster: 'good', requestMirrorPolicies: [{ cluster: 'mirror' }] }),
        route({ prefix: '/cors' }, { cluster: 'good' }, { typedPerFilterConfig: { 'envoy.filters.http.cors': { '@type': CORS_POLICY, allowOriginStringMatch: [{ exact: 'https://ok.example' }], allowMethods: 'GET,POST', allowHeaders: 'x-a', maxAge: '60', exposeHeaders: 'x-b' } } }),
      ], { includeRequestAttemptCount: true, includeAttemptCountInResponse: true })])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    for (const s of [flaky, slow, good, mirror]) await s.stop();
  });

  it('retries 5xx until success and reports x-envoy-attempt-count', async () => {
    flaky.count = 0;
    const r = await request(port, { path: '/retry' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-envoy-attempt-count'], '3');
    assert.equal(r.json<EchoReply>().headers['x-envoy-attempt-count'], '3');
    assert.equal(flaky.count, 3);
    assert.match(h.proxy.statsText(), /cluster\.flaky\.upstream_rq_retry: 2/);
  });

  it('returns the upstream 503 without a retry policy, and URX when retries run out', async () => {
    flaky.count = 0;
    assert.equal((await request(port, { path: '/noretry' })).status, 503);
    flaky.count = 0;
    const r = await request(port, { path: '/few' });
    assert.equal(r.status, 503);
    assert.equal(flaky.count, 2);
  });

  it('times out slow upstreams with 504 UT and retries per-try timeouts', async () => {
    const r = await request(port, { path: '/timeout?delay=2000' });
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.equal((await request(port, { path: '/timeout?delay=0' })).status, 200);
    slow.count = 0;
    const p = await request(port, { path: '/pertry?delay=1000' });
    assert.equal(p.status, 504);
    assert.equal(slow.count >= 1, true);
    assert.equal(p.headers['x-envoy-attempt-count'], undefined);
  });

  it('answers 503 UF on connect failure, retries connect failures on another host, 503 UH with no endpoints', async () => {
    const d = await request(port, { path: '/dead' });
    assert.equal(d.status, 503);
    assert.match(d.body, /reset reason: connection failure/);
    for (let i = 0; i < 4; i++) assert.equal((await request(port, { path: '/connectretry' })).status, 200);
    const e = await request(port, { path: '/empty' });
    assert.equal(e.status, 503);
    assert.equal(e.body, 'no healthy upstream');
  });

  it("charges cluster response codes as Envoy's router: upstream responses and upstream aborts (UF, UT), not no-healthy-upstream", async () => {
    const stat = (cluster: string, name: string): number => Number(new RegExp(`^cluster\\.${cluster}\\.${name}: (\\d+)$`, 'm').exec(h.proxy.statsText())?.[1] ?? 0);
    const before = { dead5xx: stat('dead', 'upstream_rq_5xx'), dead503: stat('dead', 'upstream_rq_503'), empty5xx: stat('empty', 'upstream_rq_5xx'), emptyNone: stat('empty', 'upstream_cx_none_healthy'), slow504: stat('slow', 'upstream_rq_504'), flaky5xx: stat('flaky', 'upstream_rq_5xx') };
    assert.equal((await request(port, { path: '/dead' })).status, 503);
    assert.equal((await request(port, { path: '/empty' })).status, 503);
    assert.equal((await request(port, { path: '/timeout?delay=1000' })).status, 504);
    // the upstream's own 503 (flaky answers 503 to 2 of every 3 requests): charged as it comes
    let upstream503 = 0;
    for (let i = 0; i < 3; i++) if ((await request(port, { path: '/noretry' })).status === 503) upstream503++;
    assert.equal(stat('dead', 'upstream_rq_5xx') - before.dead5xx, 1, 'a connection failure is charged 503 to the cluster (chargeUpstreamAbort)');
    assert.equal(stat('dead', 'upstream_rq_503') - before.dead503, 1);
    assert.equal(stat('slow', 'upstream_rq_504') - before.slow504, 1, 'a route timeout is charged 504');
    assert.equal(stat('empty', 'upstream_rq_5xx') - before.empty5xx, 0, 'no upstream host: not an upstream response');
    assert.equal(stat('empty', 'upstream_cx_none_healthy') - before.emptyNone, 1);
    assert.equal(stat('flaky', 'upstream_rq_5xx') - before.flaky5xx, upstream503);
    assert.match(await h.proxy.statsPrometheus(), /envoy_cluster_upstream_rq_xx\{envoy_response_code_class="5",envoy_cluster_name="dead"\} [1-9]/);
  });

  it('injects aborts and delays (fault filter), honouring percentages', async () => {
    const a = await request(port, { path: '/abort' });
    assert.equal(a.status, 418);
    assert.equal(a.body, 'fault filter abort');
    const t0 = performance.now();
    assert.equal((await request(port, { path: '/delay' })).status, 200);
    assert.ok(performance.now() - t0 >= 140, 'delay applied');
    let aborted = 0;
    for (let i = 0; i < 40; i++) if ((await request(port, { path: '/halfabort' })).status === 500) aborted++;
    assert.ok(aborted > 5 && aborted < 35, `50% abort gave ${aborted}/40`);
  });

  it('mirrors requests to the shadow cluster with a -shadow host', async () => {
    mirror.count = 0;
    let seenHost = '';
    mirror.behaviour = (req) => {
      seenHost = String(req.headers.host);
      return undefined;
    };
    assert.equal((await request(port, { path: '/mirror', headers: { host: 'svc:80' } })).json<EchoReply>().server, 'good');
    await waitUntil(() => mirror.count === 1, 'mirrored request');
    assert.equal(seenHost, 'svc-shadow:80');
  });

  it('mirrors request bodies as they arrive (content-length and chunked, beyond the 64 KiB kept for retries), on warm keep-alive connections', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const chunked of [false, true]) {
        mirror.count = 0;
        let seen: { host: string; body: string } | undefined;
        mirror.behaviour = (req, b) => {
          seen = { host: String(req.headers.host), body: b };
          return undefined;
        };
        const body = `${chunked ? 'c' : 'l'}`.repeat(150_000);
        const r = await request(port, { method: 'POST', path: '/mirror', headers: { host: 'svc:80' }, body, chunked, agent });
        assert.equal(r.json<EchoReply>().body, body);
        await waitUntil(() => mirror.count === 1, 'mirrored request');
        assert.equal(seen?.host, 'svc-shadow:80');
        assert.equal(seen?.body.length, body.length);
        assert.equal(seen?.body, body);
        // the next request on the same connections still works (nothing half-sent left behind)
        assert.equal((await request(port, { path: '/mirror', agent })).status, 200);
        await waitUntil(() => mirror.count === 2, 'second mirrored request');
      }
    } finally {
      agent.destroy();
      mirror.behaviour = undefined;
    }
  });

  it('answers CORS preflights and adds CORS headers for allowed origins', async () => {
    const pre = await request(port, { method: 'OPTIONS', path: '/cors', headers: { origin: 'https://ok.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://ok.example');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
    assert.equal(pre.headers['access-control-max-age'], '60');
    const ok = await request(port, { path: '/cors', headers: { origin: 'https://ok.example' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://ok.example');
    assert.equal(ok.headers['access-control-expose-headers'], 'x-b');
    const bad = await request(port, { path: '/cors', headers: { origin: 'https://evil.example' } });
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
  });
});

describe('circuit breakers and outlier detection', () => {
  let h: Harness;
  let slow: EchoServer;
  let a: EchoServer;
  let b: EchoServer;
  let port: number;

  before(async () => {
    slow = await new EchoServer('slow', () => ({ delayMs: 1500 })).start();
    a = await new EchoServer('a', () => ({ status: 500 })).start();
    b = await new EchoServer('b').start();
    h = await startHarness();
    await h.push({
      clusters: [
        staticCluster('limited', [['127.0.0.1', slow.port]], { circuitBreakers: { thresholds: [{ maxConnections: { value: 1 }, maxPendingRequests: { value: 1 }, maxRequests: { value: 1 } }] } }),
        staticCluster('od', [['127.0.0.1', a.port], ['127.0.0.1', b.port]], {
          outlierDetection: { consecutive_5xx: { value: 2 }, baseEjectionTime: { seconds: 30 }, maxEjectionPercent: { value: 100 }, interval: { seconds: 1 } },
          commonLbConfig: { healthyPanicThreshold: {} },
        }),
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/limited' }, { cluster: 'limited' }),
        route({ prefix: '/od' }, { cluster: 'od' }),
      ])])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    for (const s of [slow, a, b]) await s.stop();
  });

  it('overflows with 503 UO beyond max connections/pending/requests', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => request(port, { path: '/limited' })));
    const codes = results.map((r) => r.status).sort();
    assert.ok(codes.includes(200), `some succeed: ${codes}`);
    const overflow = results.filter((r) => r.status === 503);
    assert.ok(overflow.length >= 3, `some overflow: ${codes}`);
    assert.match(overflow[0].body, /reset reason: overflow/);
  });

  it('ejects a host after consecutive 5xx and sends traffic to the healthy one', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await request(port, { path: '/od' })).status);
    const after = statuses.slice(-6);
    assert.deepEqual(after, [200, 200, 200, 200, 200, 200], `statuses ${statuses}`);
    assert.match(h.proxy.statsText(), /cluster\.od\.outlier_detection\.ejections_total: 1/);
    assert.match(h.proxy.clustersText(false), /od::127\.0\.0\.1:\d+::health_flags::healthy\/failed_outlier_check/);
  });
});
