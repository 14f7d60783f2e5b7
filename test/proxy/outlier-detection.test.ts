import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { Host } from '../../src/data/upstream/host.ts';
import { compileOutlier } from '../../src/data/upstream/outlier-config.ts';
import { OutlierDetector } from '../../src/data/upstream/outlier-detector.ts';
import { outlierDetectionFields } from '../../src/control/generate/cluster-traffic-policy.ts';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

function hosts(n: number): Host[] {
  return Array.from({ length: n }, (_, i) => new Host({ address: '10.0.0.' + (i + 1), port: 80, weight: 1, healthy: true, metadata: {}, locality: '', hostname: '', priority: 0, localityWeight: 0 }));
}

/** A detector over `n` hosts on a manual clock (interval 10 s). */
function detector(config: Record<string, unknown>, n = 5): { d: OutlierDetector; hs: Host[]; clock: ManualClock } {
  const clock = new ManualClock(1_000_000);
  const hs = hosts(n);
  const d = new OutlierDetector(compileOutlier(config, 'od')!, clock, { hosts: hs, ejected: () => undefined });
  return { d, hs, clock };
}

/** `total` results on host `h`, `failures` of them 500. */
function feed(d: OutlierDetector, h: Host, total: number, failures: number, status = 500): void {
  for (let i = 0; i < total; i++) d.putResult(h, i < failures ? status : 200, false);
}

describe('outlier detection semantics (Envoy), manual clock', () => {
  it('success rate: ejects hosts below mean − 1.9 × stdev at the interval, not before', () => {
    const { d, hs, clock } = detector({ enforcingConsecutive_5xx: { value: 0 } });
    for (const h of hs.slice(0, 4)) feed(d, h, 100, 0);
    feed(d, hs[4]!, 100, 60); // 40 % success: mean 88, stdev 24, threshold 42.4
    assert.equal(hs[4]!.ejectedUntil, 0, 'nothing before the sweep');
    clock.advance(10_000);
    assert.ok(hs[4]!.ejectedUntil > clock.now(), 'the outlier is ejected');
    assert.ok(hs.slice(0, 4).every((h) => h.ejectedUntil === 0));
    assert.equal(d.counters.get('ejections_enforced_success_rate'), 1);
    assert.equal(d.external.average, 88);
    assert.ok(Math.abs(d.external.ejectionThreshold - 42.4) < 1e-9, String(d.external.ejectionThreshold));
    assert.equal(hs[4]!.outlierCounters.externalSuccessRate, 40);
    assert.equal(d.counters.get('ejections_detected_consecutive_5xx'), 12, 'consecutive 5xx detected but not enforced');
    assert.equal(d.counters.get('ejections_enforced_consecutive_5xx'), undefined);
  });

  it('success rate needs success_rate_minimum_hosts hosts with success_rate_request_volume requests', () => {
    const few = detector({ enforcingConsecutive_5xx: { value: 0 } }, 4);
    for (const h of few.hs.slice(0, 3)) feed(few.d, h, 100, 0);
    feed(few.d, few.hs[3]!, 100, 100);
    few.clock.advance(10_000);
    assert.equal(few.hs[3]!.ejectedUntil, 0, '4 hosts < minimum 5');
    const low = detector({ enforcingConsecutive_5xx: { value: 0 } });
    for (const h of low.hs.slice(0, 4)) feed(low.d, h, 100, 0);
    feed(low.d, low.hs[4]!, 99, 99);
    low.clock.advance(10_000);
    assert.equal(low.hs[4]!.ejectedUntil, 0, '99 requests < volume 100: the host is not measured');
    assert.equal(low.d.external.average, -1, 'only 4 hosts qualified');
  });

  it('success rate counts the interval just ended only, and enforcingSuccessRate 0 (istiod) never ejects', () => {
    const { d, hs, clock } = detector({ enforcingConsecutive_5xx: { value: 0 } });
    for (const h of hs.slice(0, 4)) feed(d, h, 100, 0);
    feed(d, hs[4]!, 100, 100);
    clock.advance(10_000);
    clock.advance(10_000);
    assert.equal(d.external.average, -1, 'an interval without traffic has no figures');
    const off = detector({ enforcingSuccessRate: { value: 0 }, enforcingConsecutive_5xx: { value: 0 } });
    for (const h of off.hs.slice(0, 4)) feed(off.d, h, 100, 0);
    feed(off.d, off.hs[4]!, 100, 100);
    off.clock.advance(10_000);
    assert.equal(off.hs[4]!.ejectedUntil, 0);
    assert.equal(off.d.counters.get('ejections_detected_success_rate'), 1);
    assert.equal(off.d.counters.get('ejections_enforced_success_rate'), undefined);
  });

  it('failure percentage: ejects hosts at or above the threshold when enforced (off by default)', () => {
    const config = { enforcingSuccessRate: { value: 0 }, enforcingConsecutive_5xx: { value: 0 }, failurePercentageThreshold: { value: 50 }, failurePercentageRequestVolume: { value: 10 } };
    const off = detector(config);
    for (const h of off.hs) feed(off.d, h, 10, h === off.hs[0] ? 5 : 0);
    off.clock.advance(10_000);
    assert.equal(off.hs[0]!.ejectedUntil, 0, 'enforcing_failure_percentage defaults to 0');
    assert.equal(off.d.counters.get('ejections_detected_failure_percentage'), 1);
    const on = detector({ ...config, enforcingFailurePercentage: { value: 100 } });
    for (const h of on.hs) feed(on.d, h, 10, h === on.hs[0] ? 5 : h === on.hs[1] ? 4 : 0);
    on.clock.advance(10_000);
    assert.ok(on.hs[0]!.ejectedUntil > on.clock.now(), '50 % failures reach the threshold');
    assert.equal(on.hs[1]!.ejectedUntil, 0, '40 % does not');
    assert.equal(on.d.counters.get('ejections_enforced_failure_percentage'), 1);
    const small = detector({ ...config, enforcingFailurePercentage: { value: 100 } });
    for (const h of small.hs) feed(small.d, h, h === small.hs[4] ? 9 : 10, h === small.hs[0] ? 10 : 0);
    small.clock.advance(10_000);
    assert.equal(small.hs[0]!.ejectedUntil, 0, 'only 4 hosts reach the request volume (minimum 5)');
  });

  it('split local-origin errors: connect failures eject by consecutive_local_origin_failure, not by 5xx', () => {
    const { d, hs } = detector({ splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: { value: 3 }, enforcingSuccessRate: { value: 0 } });
    for (let i = 0; i < 4; i++) d.putResult(hs[0]!, 503, true);
    assert.ok(hs[0]!.ejectedUntil > 0, '3 local-origin failures eject');
    assert.equal(d.counters.get('ejections_enforced_consecutive_local_origin_failure'), 1);
    for (let i = 0; i < 2; i++) d.putResult(hs[1]!, 503, true);
    d.putResult(hs[1]!, 200, false);
    d.putResult(hs[1]!, 503, true);
    assert.equal(hs[1]!.ejectedUntil, 0, 'a response resets the local-origin count');
    const joined = detector({ enforcingSuccessRate: { value: 0 }, consecutive_5xx: { value: 3 } });
    for (let i = 0; i < 3; i++) joined.d.putResult(joined.hs[0]!, 503, true);
    assert.ok(joined.hs[0]!.ejectedUntil > 0, 'without the split a connect failure counts as a 503');
  });

  it('ejection time grows with each ejection up to max_ejection_time; max_ejection_percent caps ejections', () => {
    const { d, hs, clock } = detector({ consecutive_5xx: { value: 1 }, baseEjectionTime: { seconds: 100 }, maxEjectionTime: { seconds: 150 }, maxEjectionPercent: { value: 20 } });
    d.putResult(hs[0]!, 500, false);
    assert.equal(hs[0]!.ejectedUntil, clock.now() + 100_000);
    d.putResult(hs[1]!, 500, false);
    assert.equal(hs[1]!.ejectedUntil, 0, 'a second ejection would pass 20 %');
    assert.equal(d.counters.get('ejections_overflow'), 1);
    clock.advance(100_000);
    d.putResult(hs[0]!, 500, false);
    assert.equal(hs[0]!.ejectedUntil, clock.now() + 150_000, 'second ejection: 200 s capped at 150 s');
  });

  it('istiod mapping: success rate off, consecutive errors as istiod, Envoy defaults left alone', () => {
    assert.deepEqual(outlierDetectionFields({ consecutive5xxErrors: 7, interval: '5s', baseEjectionTime: '1m', maxEjectionPercent: 0 }), {
      outlierDetection: { enforcingSuccessRate: 0, consecutive5xx: 7, enforcingConsecutive5xx: 100, interval: '5s', baseEjectionTime: '60s' },
    });
    assert.deepEqual(outlierDetectionFields({ consecutiveGatewayErrors: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 4, consecutiveErrors: 3, minHealthPercent: 30 }), {
      outlierDetection: {
        enforcingSuccessRate: 0, consecutiveGatewayFailure: 0, enforcingConsecutiveGatewayFailure: 0, splitExternalLocalOriginErrors: true,
        consecutiveLocalOriginFailure: 4, enforcingConsecutiveLocalOriginFailure: 100, enforcingLocalOriginSuccessRate: 0,
      },
      commonLbConfig: { healthyPanicThreshold: { value: 30 } },
    });
  });
});

describe('success-rate and failure-percentage ejection through the proxy', () => {
  let h: Harness;
  let servers: EchoServer[];
  let bad: EchoServer;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  before(async () => {
    servers = await Promise.all(['a', 'b', 'c', 'd'].map((n) => new EchoServer(n).start()));
    bad = await new EchoServer('bad', () => ({ status: 500 })).start();
    const endpoints: [string, number][] = [...servers, bad].map((s) => ['127.0.0.1', s.port]);
    const common = { lbPolicy: 'ROUND_ROBIN', commonLbConfig: { healthyPanicThreshold: {} } };
    h = await startHarness();
    await h.push({
      clusters: [
        // success rate with Envoy's defaults except the request volume; consecutive 5xx not enforced
        staticCluster('sr', endpoints, { ...common, outlierDetection: { interval: { seconds: 1 }, enforcingConsecutive_5xx: { value: 0 }, successRateRequestVolume: { value: 5 } } }),
        staticCluster('fp', endpoints, {
          ...common,
          outlierDetection: {
            interval: { seconds: 1 }, enforcingConsecutive_5xx: { value: 0 }, enforcingSuccessRate: { value: 0 },
            enforcingFailurePercentage: { value: 100 }, failurePercentageThreshold: { value: 60 }, failurePercentageRequestVolume: { value: 5 },
          },
        }),
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/sr' }, { cluster: 'sr' }), route({ prefix: '/fp' }, { cluster: 'fp' })])])],
    });
    port = h.port('web');
  });

  after(async () => {
    agent.destroy();
    await h.close();
    for (const s of [...servers, bad]) await s.stop();
  });

  /** Sends requests (4 at a time) until the bad host is ejected, then checks it gets no more. */
  async function ejectsBadHost(path: string, stat: string): Promise<void> {
    const cluster = h.proxy.clusters.get(path.slice(1))!;
    const badHost = cluster.hosts.find((x) => x.port === bad.port)!;
    let stop = false;
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) await request(port, { path, agent });
    });
    try {
      await waitUntil(() => badHost.ejectedUntil > Date.now(), `${path}: the failing host ejected`, 60_000);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    const stats = h.proxy.statsText();
    assert.match(stats, new RegExp(`cluster\\.${path.slice(1)}\\.outlier_detection\\.ejections_enforced_${stat}: 1\\n`));
    assert.doesNotMatch(stats, new RegExp(`cluster\\.${path.slice(1)}\\.outlier_detection\\.ejections_enforced_consecutive_5xx`));
    assert.match(h.proxy.clustersText(false), new RegExp(`${path.slice(1)}::127\\.0\\.0\\.1:${bad.port}::health_flags::healthy/failed_outlier_check`));
    const before = bad.count;
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push((await request(port, { path, agent })).status);
    assert.deepEqual(new Set(statuses), new Set([200]), `after the ejection: ${statuses}`);
    assert.equal(bad.count, before, 'the ejected host gets no requests');
  }

  it('ejects a host whose success rate is an outlier (success_rate_*)', async () => {
    await ejectsBadHost('/sr', 'success_rate');
    assert.match(h.proxy.clustersText(false), /sr::outlier::success_rate_average::\d/);
  });

  it('ejects a host whose failure percentage reaches the threshold (failure_percentage_*)', async () => {
    await ejectsBadHost('/fp', 'failure_percentage');
  });
});
