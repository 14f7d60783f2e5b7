import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { address, edsCluster, httpListener, route, routeConfig, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

type Obj = Record<string, unknown>;

/** One LocalityLbEndpoints entry: a locality, its priority and weight, its hosts' ports on 127.0.0.1. */
function locality(zone: string, priority: number, weight: number, ports: number[]): Obj {
  return { locality: { region: 'r1', zone }, priority, loadBalancingWeight: { value: weight }, lbEndpoints: ports.map((p) => ({ endpoint: { address: address('127.0.0.1', p) } })) };
}

const OUTLIER = { outlierDetection: { consecutive_5xx: { value: 1 }, baseEjectionTime: { seconds: 60 }, maxEjectionPercent: { value: 100 }, interval: { seconds: 1 } } };

describe('priorities and locality weights from EDS (locality failover, distribute), as Envoy', () => {
  let h: Harness;
  let near1: EchoServer;
  let near2: EchoServer;
  let far: EchoServer;
  let x: EchoServer;
  let y: EchoServer;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  const tally = async (path: string, n: number): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = await request(port, { path, agent });
      const who = r.status === 200 ? r.json<EchoReply>().server : `status ${r.status}`;
      out.set(who, (out.get(who) ?? 0) + 1);
    }
    return out;
  };

  before(async () => {
    near1 = await new EchoServer('near1').start();
    near2 = await new EchoServer('near2').start();
    far = await new EchoServer('far').start();
    x = await new EchoServer('x').start();
    y = await new EchoServer('y').start();
    h = await startHarness();
    await h.push({
      clusters: [
        edsCluster('failover', { ...OUTLIER, commonLbConfig: { healthyPanicThreshold: {} } }),
        edsCluster('weighted', { commonLbConfig: { healthyPanicThreshold: {}, localityWeightedLbConfig: {} } }),
        edsCluster('unweighted', { commonLbConfig: { healthyPanicThreshold: {} } }),
      ],
      endpoints: [
        { clusterName: 'failover', endpoints: [locality('near', 0, 2, [near1.port, near2.port]), locality('far', 1, 1, [far.port])] },
        { clusterName: 'weighted', endpoints: [locality('x', 0, 80, [x.port]), locality('y', 0, 20, [y.port])] },
        { clusterName: 'unweighted', endpoints: [locality('x', 0, 80, [x.port]), locality('y', 0, 20, [y.port])] },
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/failover' }, { cluster: 'failover' }),
        route({ prefix: '/weighted' }, { cluster: 'weighted' }),
        route({ prefix: '/unweighted' }, { cluster: 'unweighted' }),
      ])])],
    });
    port = h.port('web');
  });

  after(async () => {
    agent.destroy();
    await h.close();
    for (const s of [near1, near2, far, x, y]) await s.stop();
  });

  it('sends everything to priority 0 while it is healthy; an ejected host spills 30 % to priority 1 (overprovisioning 1.4); all ejected: everything fails over', async () => {
    const healthy = await tally('/failover', 40);
    assert.equal(healthy.get('far'), undefined, `nothing reaches priority 1: ${JSON.stringify([...healthy])}`);
    assert.equal((healthy.get('near1') ?? 0) + (healthy.get('near2') ?? 0), 40);
    // one 5xx ejects near2 (consecutive_5xx 1): priority 0 is 50 % available → 70 % health
    near2.behaviour = () => ({ status: 503 });
    for (let i = 0; i < 10 && !(h.proxy.clusters.get('failover')!.hosts.find((x) => x.port === near2.port)!.ejectedUntil > 0); i++) await request(port, { path: '/failover', agent });
    near2.behaviour = undefined;
    const spill = await tally('/failover', 300);
    assert.equal(spill.get('near2'), undefined, 'the ejected host gets nothing');
    const share = (spill.get('far') ?? 0) / 300;
    assert.ok(share > 0.2 && share < 0.4, `priority 1 takes about 30 %: ${JSON.stringify([...spill])}`);
    // the last near host fails too: priority 0 has no healthy host, all traffic goes to priority 1
    near1.behaviour = () => ({ status: 503 });
    for (let i = 0; i < 20 && !(h.proxy.clusters.get('failover')!.hosts.find((x) => x.port === near1.port)!.ejectedUntil > 0); i++) await request(port, { path: '/failover', agent });
    near1.behaviour = undefined;
    const over = await tally('/failover', 30);
    assert.deepEqual([...over], [['far', 30]]);
  });

  it('locality_weighted_lb_config: localities share requests by their weights (80/20); without it, hosts are balanced alone', async () => {
    const w = await tally('/weighted', 100);
    assert.equal(w.get('x'), 80, JSON.stringify([...w]));
    assert.equal(w.get('y'), 20, JSON.stringify([...w]));
    const u = await tally('/unweighted', 100);
    assert.ok((u.get('x') ?? 0) >= 35 && (u.get('x') ?? 0) <= 65, `no locality weights: ${JSON.stringify([...u])}`);
  });
});
