import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../../src/lib/prometheus-exposition.ts';
import { layoutGraph } from '../../src/dashboard/graph-layout.ts';
import { buildServiceGraph } from '../../src/dashboard/service-graph.ts';
import { trafficSnapshot } from '../../src/dashboard/traffic-snapshot.ts';
import { histogramQuantile, TrafficWindow } from '../../src/dashboard/traffic-window.ts';
import { DURATION_BUCKETS } from '../../src/data/telemetry/istio-metrics.ts';

/** One istio_requests_total + duration histogram series in the proxy's exposition form. */
function series(labels: Record<string, string>, requests: number, durationsMs: number[] = []): string {
  const base = { source_workload_namespace: 'default', destination_service_namespace: 'default', destination_workload_namespace: 'default', request_protocol: 'http', response_flags: '-', connection_security_policy: 'unknown', ...labels };
  const l = Object.entries(base).map(([k, v]) => `${k}="${v}"`).join(',');
  const lines = [`istio_requests_total{${l}} ${requests}`];
  for (const b of [...DURATION_BUCKETS, Infinity]) lines.push(`istio_request_duration_milliseconds_bucket{${l},le="${b === Infinity ? '+Inf' : b}"} ${durationsMs.filter((d) => d <= b).length}`);
  return `${lines.join('\n')}\n`;
}

const pp = { source_workload: 'productpage-v1', source_app: 'productpage', source_version: 'v1' };
const reviews = (v: string) => ({ destination_service: 'reviews.default.svc.cluster.local', destination_service_name: 'reviews', destination_workload: `reviews-${v}`, destination_app: 'reviews', destination_version: v });

describe('Prometheus exposition parser', () => {
  it('reads names, escaped label values, special values, and skips comments', () => {
    const s = parseExposition('# HELP x y\n# TYPE a counter\na{b="q\\"u\\\\o\\nte",c=""} 12\nb 1.5e3 1700000000\nc{le="+Inf"} +Inf\nbad line\n');
    assert.deepEqual(s, [
      { name: 'a', labels: { b: 'q"u\\o\nte', c: '' }, value: 12 },
      { name: 'b', labels: {}, value: 1500 },
      { name: 'c', labels: { le: '+Inf' }, value: Infinity },
    ]);
  });
});

describe('TrafficWindow', () => {
  it('gives per-second rates between the newest scrape and the oldest inside the window, across proxies and resets', () => {
    const w = new TrafficWindow();
    const a = (n: number) => trafficSnapshot(series({ reporter: 'source', ...pp, ...reviews('v1'), response_code: '200' }, n));
    w.add('p1', 0, a(100));
    w.add('p1', 5_000, a(150));
    w.add('p1', 10_000, a(200));
    w.add('p2', 2_000, a(10));
    w.add('p2', 10_000, a(4)); // restarted: 4 requests since
    const r = [...w.rates(10_000, 10_000).values()];
    assert.equal(r.length, 1);
    assert.ok(Math.abs(r[0]!.requests - (100 / 10 + 4 / 8)) < 1e-9, String(r[0]!.requests));
    // a shorter window uses the scrape inside it; p2 has only one scrape in it, so no rate (as rate())
    assert.equal([...w.rates(5_000, 10_000).values()][0]!.requests, 50 / 5);
  });

  it('computes quantiles like histogram_quantile', () => {
    const b = new Map<number, number>([[10, 50], [100, 90], [Infinity, 100]]);
    assert.equal(histogramQuantile(0.5, b), 10);
    assert.equal(histogramQuantile(0.7, b), 10 + (90 * 20) / 40);
    assert.equal(histogramQuantile(0.99, b), 100);
    assert.equal(histogramQuantile(0.5, new Map([[10, 0], [Infinity, 0]])), undefined);
  });
});

describe('buildServiceGraph', () => {
  const scrape = (reportsAt: number, scale: number): string =>
    series({ reporter: 'source', ...pp, ...reviews('v1'), response_code: '200' }, 10 * scale, Array(10 * scale).fill(3)) +
    series({ reporter: 'source', ...pp, ...reviews('v2'), response_code: '200' }, 20 * scale, Array(20 * scale).fill(30)) +
    series({ reporter: 'source', ...pp, ...reviews('v2'), response_code: '503', response_flags: 'FI' }, 10 * scale, Array(10 * scale).fill(1)) +
    series({ reporter: 'destination', ...pp, ...reviews('v2'), response_code: '200', connection_security_policy: 'mutual_tls' }, 20 * scale) +
    series({ reporter: 'destination', source_workload: 'unknown', ...reviews('v1'), response_code: '200', connection_security_policy: 'none' }, 5 * scale + reportsAt * 0);

  it('links callers to services and services to workloads, with rates, shares, errors, latency and mTLS', () => {
    const w = new TrafficWindow();
    w.add('all', 0, trafficSnapshot(scrape(0, 0)));
    w.add('all', 10_000, trafficSnapshot(scrape(10, 1)));
    const g = buildServiceGraph(w.rates(10_000, 10_000).values(), [{ namespace: 'default', name: 'ratings-v1', app: 'ratings', version: 'v1', proxied: true }]);
    const edge = (id: string) => g.edges.find((e) => e.id === id);
    const toReviews = edge('wl:default/productpage-v1->svc:default/reviews:http')!;
    assert.equal(toReviews.rate, 4);
    assert.equal(toReviews.errorRate, 0.25);
    assert.equal(toReviews.health, 'failure');
    assert.equal(toReviews.mtls, 1, 'only the mTLS report of the server counts');
    const v1 = edge('svc:default/reviews->wl:default/reviews-v1:http')!;
    const v2 = edge('svc:default/reviews->wl:default/reviews-v2:http')!;
    assert.equal(v1.rate, 1.5, 'client reports plus the server report of a caller without a proxy');
    assert.equal(v2.rate, 3);
    assert.equal(v1.share, 1.5 / 4.5);
    assert.equal(v1.p50, 1 + (4 * 5) / 10, 'P50 inside the (1,5] bucket');
    assert.equal(v2.health, 'failure');
    assert.equal(v1.mtls, 0, 'the unknown caller came in plaintext');
    assert.ok(edge('unknown->svc:default/reviews:http'));
    const idle = g.nodes.find((n) => n.id === 'wl:default/ratings-v1')!;
    assert.equal(idle.health, 'idle');
    assert.equal(g.nodes.find((n) => n.id === 'svc:default/reviews')!.inboundRate, 4.5);
  });
});

describe('layoutGraph', () => {
  it('puts callers left of what they call and keeps a cycle from looping', () => {
    const pos = layoutGraph(['a', 'b', 'c', 'd', 'lonely'], [{ source: 'a', target: 'b' }, { source: 'b', target: 'c' }, { source: 'c', target: 'b' }, { source: 'a', target: 'd' }]);
    assert.ok(pos.get('a')!.x < pos.get('b')!.x && pos.get('b')!.x < pos.get('c')!.x);
    assert.ok(pos.get('lonely')!.x < pos.get('a')!.x);
    const ys = new Set([...pos.values()].map((p) => `${p.x},${p.y}`));
    assert.equal(ys.size, 5, 'no two nodes on the same spot');
  });
});
