import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { Cluster } from '../../src/data/upstream/cluster.ts';
import { compileCluster } from '../../src/data/upstream/cluster-config.ts';
import { UpstreamConnector } from '../../src/data/upstream/upstream-connector.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { TlsContextFactory } from '../../src/data/tls/tls-context-factory.ts';
import { loadBalancerFields } from '../../src/control/generate/cluster-traffic-policy.ts';
import { compileEndpoints } from '../../src/data/upstream/endpoint-config.ts';
import { cla, httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

describe('DestinationRule warmup / warmupDurationSecs → slow_start_config, as istiod', () => {
  it('sets the slow start window of round robin and least request (the default), not of others', () => {
    assert.deepEqual(loadBalancerFields({ simple: 'ROUND_ROBIN', warmupDurationSecs: '30s' }), { lbPolicy: 'ROUND_ROBIN', roundRobinLbConfig: { slowStartConfig: { slowStartWindow: '30s' } } });
    assert.deepEqual(loadBalancerFields({ warmupDurationSecs: '1m' }), { lbPolicy: 'LEAST_REQUEST', leastRequestLbConfig: { slowStartConfig: { slowStartWindow: '60s' } } });
    assert.deepEqual(loadBalancerFields({ simple: 'RANDOM', warmupDurationSecs: '30s' }), { lbPolicy: 'RANDOM' });
    assert.deepEqual(loadBalancerFields({ simple: 'ROUND_ROBIN' }), { lbPolicy: 'ROUND_ROBIN' });
    // warmup wins over warmupDurationSecs; istiod's defaults aggression 1, minimumPercent 10, runtime key '('
    assert.deepEqual(loadBalancerFields({ simple: 'ROUND_ROBIN', warmupDurationSecs: '5s', warmup: { duration: '30s' } }), { lbPolicy: 'ROUND_ROBIN', roundRobinLbConfig: { slowStartConfig: { slowStartWindow: '30s', aggression: { defaultValue: 1, runtimeKey: '(' }, minWeightPercent: { value: 10 } } } });
    assert.deepEqual(loadBalancerFields({ warmup: { duration: '10s', aggression: 2, minimumPercent: 25 } }).leastRequestLbConfig, { slowStartConfig: { slowStartWindow: '10s', aggression: { defaultValue: 2, runtimeKey: '(' }, minWeightPercent: { value: 25 } } });
  });
});

describe('slow start (Envoy: weight × max(min_weight_percent, (age / window)^(1/aggression)))', () => {
  const tls = new TlsContextFactory(new MapSecretProvider());
  after(() => tls.close());
  const endpoints = (ports: number[]) => compileEndpoints(cla('c', ports.map((p) => ['10.0.0.1', p])), 'cla');

  function share(c: Cluster, port: number, n = 4000): number {
    let hits = 0;
    for (let i = 0; i < n; i++) if (c.pick(undefined, undefined)!.port === port) hits++;
    return hits / n;
  }

  it('ramps a host that joins later from 10 % of its weight to its full share over the window', () => {
    const clock = new ManualClock(0);
    const c = new Cluster(compileCluster({ name: 'c', type: 'STATIC', connectTimeout: { seconds: 1 }, lbPolicy: 'ROUND_ROBIN', roundRobinLbConfig: { slowStartConfig: { slowStartWindow: { seconds: 10 } } } }), new UpstreamConnector(tls), clock);
    c.setEndpoints(endpoints([1]).endpoints);
    clock.advance(60_000);
    c.setEndpoints(endpoints([1, 2]).endpoints);
    clock.advance(500);
    const early = share(c, 2);
    assert.ok(early > 0.05 && early < 0.14, `min weight 10 %: share ${early} (expected 0.1 / 1.1)`);
    clock.advance(4500);
    const half = share(c, 2);
    assert.ok(half > 0.27 && half < 0.40, `half the window: share ${half} (expected 0.5 / 1.5)`);
    clock.advance(5000);
    assert.equal(share(c, 2, 1000), 0.5, 'after the window: plain round robin');
    c.close();
  });

  it('aggression bends the ramp; without slow_start_config a new host takes its share at once', () => {
    const clock = new ManualClock(0);
    const c = new Cluster(compileCluster({ name: 'c', type: 'STATIC', connectTimeout: { seconds: 1 }, lbPolicy: 'LEAST_REQUEST', leastRequestLbConfig: { slowStartConfig: { slowStartWindow: { seconds: 100 }, aggression: { defaultValue: 0.5, runtimeKey: 'k' }, minWeightPercent: { value: 1 } } } }), new UpstreamConnector(tls), clock);
    c.setEndpoints(endpoints([1]).endpoints);
    clock.advance(60_000);
    c.setEndpoints(endpoints([1, 2]).endpoints);
    clock.advance(50_000);
    const s = share(c, 2);
    assert.ok(s > 0.16 && s < 0.24, `(0.5)^2 = 0.25 → share 0.2: ${s}`);
    c.close();
    const plain = new Cluster(compileCluster({ name: 'p', type: 'STATIC', connectTimeout: { seconds: 1 }, lbPolicy: 'ROUND_ROBIN' }), new UpstreamConnector(tls), clock);
    plain.setEndpoints(endpoints([1]).endpoints);
    plain.setEndpoints(endpoints([1, 2]).endpoints);
    assert.equal(share(plain, 2, 1000), 0.5);
    plain.close();
  });
});

describe('slow start through the proxy (real sockets)', () => {
  let h: Harness;
  let a: EchoServer;
  let b: EchoServer;
  let port: number;

  before(async () => {
    a = await new EchoServer('a').start();
    b = await new EchoServer('b').start();
    h = await startHarness();
    // a 4 s window with aggression 0.25: a host's weight stays at min_weight_percent (5 %) for about 2.5 s
    const warm = { lbPolicy: 'ROUND_ROBIN', roundRobinLbConfig: { slowStartConfig: { slowStartWindow: { seconds: 4 }, aggression: { defaultValue: 0.25, runtimeKey: 'warm' }, minWeightPercent: { value: 5 } } } };
    const routes = [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'warm' })])])];
    await h.push({ clusters: [staticCluster('warm', [['127.0.0.1', a.port]], warm)], listeners: [httpListener('web', 8080, 'web')], routes });
    port = h.port('web');
    // the first endpoint leaves its own slow start window (every endpoint of a new cluster starts in it)
    await new Promise((r) => setTimeout(r, 4100));
    await h.push({ clusters: [staticCluster('warm', [['127.0.0.1', a.port], ['127.0.0.1', b.port]], warm)] });
  });

  after(async () => {
    await h.close();
    await a.stop();
    await b.stop();
  });

  it('sends a newly added endpoint a small share of the requests at first, its full share after the window', async () => {
    const start = Date.now();
    const before = b.count;
    let sent = 0;
    // requests during the new endpoint's first 2 s: its weight is at most (2.5 / 4)^4 ≈ 15 %
    while (Date.now() - start < 1500 || sent < 20) {
      assert.equal((await request(port, { path: '/' })).status, 200);
      sent++;
    }
    const toB = b.count - before;
    assert.ok(toB < sent * 0.25, `${toB} of ${sent} to the new endpoint (round robin without slow start: half)`);
    await new Promise((r) => setTimeout(r, Math.max(0, 4100 - (Date.now() - start))));
    const later = b.count;
    for (let i = 0; i < 20; i++) await request(port, { path: '/' });
    assert.equal(b.count - later, 10, 'after the window: plain round robin');
  });
});
