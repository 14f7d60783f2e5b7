import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DashboardServer, type DashboardSources, type GraphResponse } from '../../src/dashboard/dashboard-server.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { DURATION_BUCKETS } from '../../src/data/telemetry/istio-metrics.ts';

/**
 * The dashboard's HTTP API over real sockets, with the mesh replaced by what can stand in for it
 * on loopback: HTTP servers answering `/stats/prometheus` as proxies do (counters that grow
 * between scrapes), and sources that list their pods. The whole path through a real mesh and a
 * real browser is test/runtime/observability-addons.test.ts.
 */
const L = 'source_workload_namespace="default",destination_service_namespace="default",destination_workload_namespace="default",source_app="productpage",source_version="v1",destination_service="reviews.default.svc.cluster.local",destination_service_name="reviews",destination_workload="reviews-v1",destination_app="reviews",destination_version="v1",request_protocol="http",response_flags="-"';

/** A proxy's metrics endpoint whose counters grow by `perScrape` requests (1 in 4 a 503) at each scrape. */
class FakeProxy {
  readonly server: http.Server;
  private requests = 0;
  private readonly perScrape: number;
  constructor(perScrape: number) {
    this.perScrape = perScrape;
    this.server = http.createServer((req, res) => {
      if (req.url !== '/stats/prometheus') return void res.writeHead(404).end();
      this.requests += this.perScrape;
      const ok = this.requests * 0.75;
      const bad = this.requests * 0.25;
      const lines = [
        '# TYPE istio_requests_total counter',
        `istio_requests_total{reporter="source",source_workload="productpage-v1",${L},response_code="200",connection_security_policy="unknown"} ${ok}`,
        `istio_requests_total{reporter="source",source_workload="productpage-v1",${L},response_code="503",connection_security_policy="unknown"} ${bad}`,
        `istio_requests_total{reporter="destination",source_workload="productpage-v1",${L},response_code="200",connection_security_policy="mutual_tls"} ${ok}`,
        ...[...DURATION_BUCKETS, Infinity].map((b) => `istio_request_duration_milliseconds_bucket{reporter="source",source_workload="productpage-v1",${L},response_code="200",connection_security_policy="unknown",le="${b === Infinity ? '+Inf' : b}"} ${b >= 10 ? ok : 0}`),
      ];
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\n`);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as net.AddressInfo).port;
  }
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the dashboard's HTTP API", () => {
  const proxy = new FakeProxy(40);
  let dashboard: DashboardServer;
  let base = '';
  let dead = 0;

  before(async () => {
    const port = await proxy.listen();
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    dead = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const sources: DashboardSources = {
      meshName: 'mz-test',
      dial: (host, p) => new Promise((resolve, reject) => {
        const s = net.connect(p, host, () => resolve(s));
        s.once('error', reject);
      }),
      pods: () => [
        { namespace: 'default', name: 'productpage-v1-abc', workload: 'productpage-v1', labels: { app: 'productpage', version: 'v1' }, proxied: true },
        { namespace: 'default', name: 'reviews-v1-def', workload: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, proxied: true },
        { namespace: 'default', name: 'ratings-v1-ghi', workload: 'ratings-v1', labels: { app: 'ratings', version: 'v1' }, proxied: true },
      ],
      scrapeTargets: () => [
        { key: 'default/productpage-v1-abc', ip: '127.0.0.1', port, path: '/stats/prometheus' },
        { key: 'default/ratings-v1-ghi', ip: '127.0.0.1', port: dead, path: '/stats/prometheus' },
      ],
      objects: () => [],
      proxyStatus: async () => [{ name: 'productpage-v1-abc.default', podName: 'productpage-v1-abc', namespace: 'default', type: 'sidecar', istioVersion: '1.24.0-mizzen', connectedAt: '', status: { cds: 'SYNCED', lds: 'SYNCED', eds: 'SYNCED', rds: 'SYNCED' } }],
      zipkin: () => undefined,
    };
    dashboard = new DashboardServer({ sources, log: silentLogger(), scrapeIntervalMs: 200 });
    base = `http://127.0.0.1:${await dashboard.listen(0, false)}`;
  });

  after(async () => {
    await dashboard.close();
    await new Promise<void>((r) => proxy.server.close(() => r()));
  });

  it('serves the graph with rates, errors, latency and mTLS from the scraped proxies, and says which scrape failed', async () => {
    const g = await waitFor('a rate on productpage → reviews', async () => {
      const body = (await (await fetch(`${base}/api/graph?window=10`)).json()) as GraphResponse;
      const e = body.edges.find((x) => x.source === 'wl:default/productpage-v1' && x.target === 'svc:default/reviews');
      return e && e.rate > 0 ? body : undefined;
    });
    assert.equal(g.mesh, 'mz-test');
    const e = g.edges.find((x) => x.source === 'wl:default/productpage-v1' && x.target === 'svc:default/reviews')!;
    assert.ok(Math.abs(e.errorRate - 0.25) < 1e-9, `a quarter failed (${e.errorRate})`);
    assert.equal(e.health, 'failure');
    assert.equal(e.mtls, 1);
    assert.ok(e.p50 !== undefined && e.p50 > 5 && e.p50 <= 10, `P50 in the (5,10] bucket (${e.p50})`);
    assert.ok(g.edges.some((x) => x.source === 'svc:default/reviews' && x.target === 'wl:default/reviews-v1'));
    assert.equal(g.nodes.find((n) => n.id === 'wl:default/ratings-v1')?.health, 'idle', 'a known workload without traffic');
    assert.ok(g.nodes.every((n) => Number.isFinite(n.x) && Number.isFinite(n.y)), 'laid out');
    assert.equal(g.scrape.targets, 2);
    assert.match(g.scrape.failures['default/ratings-v1-ghi'] ?? '', /ECONNREFUSED/);
    assert.equal(g.zipkin, false);
  });

  it("serves a node's traffic and its proxy's sync status; 404 for what is not there", async () => {
    const r = await fetch(`${base}/api/node?id=${encodeURIComponent('wl:default/productpage-v1')}`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { outbound: { target: string }[]; inbound: unknown[]; proxies: { name: string }[]; config: unknown[]; traces?: string };
    assert.deepEqual(body.outbound.map((e) => e.target), ['svc:default/reviews']);
    assert.deepEqual(body.proxies.map((p) => p.name), ['productpage-v1-abc.default']);
    assert.equal(body.traces, undefined);
    assert.equal((await fetch(`${base}/api/node?id=nothing`)).status, 404);
    assert.equal((await fetch(`${base}/zipkin/`)).status, 404);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/api/graph`, { method: 'POST' })).status, 405);
  });

  it('serves the page and its script from the package, no build step', async () => {
    const page = await fetch(`${base}/`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<script type="module" src="\/ui\/dashboard\.js">/);
    const js = await fetch(`${base}/ui/dashboard.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(await js.text(), /\/api\/graph/);
  });
});
