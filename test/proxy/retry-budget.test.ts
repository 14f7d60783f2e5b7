import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectionPoolFields, effectivePolicy } from '../../src/control/generate/cluster-traffic-policy.ts';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { Cluster } from '../../src/data/upstream/cluster.ts';
import { compileCluster } from '../../src/data/upstream/cluster-config.ts';
import { UpstreamConnector } from '../../src/data/upstream/upstream-connector.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { TlsContextFactory } from '../../src/data/tls/tls-context-factory.ts';

/**
 * An upstream that holds the first `n` requests until all have arrived, answers them 503 at once,
 * then 200: every first attempt fails in the same instant, so their retries compete.
 */
class BarrierServer {
  readonly server: http.Server;
  port = 0;
  private held: http.ServerResponse[] = [];
  private n = 0;
  private open = false;

  constructor() {
    this.server = http.createServer((_req, res) => {
      if (this.open) return void res.end('ok');
      this.held.push(res);
      if (this.held.length === this.n) {
        this.open = true;
        for (const r of this.held.splice(0)) r.writeHead(503).end('busy');
      }
    });
  }

  arm(n: number): void {
    this.n = n;
    this.open = false;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
}

describe('DestinationRule retryBudget → circuit_breakers retry_budget, as istiod', () => {
  it("maps it with istiod's defaults (0.2, 3) and the subset's budget over the rule's", () => {
    const fields = (tp: Record<string, unknown>) => connectionPoolFields(undefined, false, '10s', false, effectivePolicy(tp, undefined, 80).retryBudget) as { circuitBreakers: { thresholds: Record<string, unknown>[] } };
    assert.deepEqual(fields({ retryBudget: {} }).circuitBreakers.thresholds[0]!.retryBudget, { budgetPercent: { value: 0.2 }, minRetryConcurrency: 3 });
    assert.deepEqual(fields({ retryBudget: { percent: 25, minRetryConcurrency: 5 } }).circuitBreakers.thresholds[0]!.retryBudget, { budgetPercent: { value: 25 }, minRetryConcurrency: 5 });
    assert.equal(fields({}).circuitBreakers.thresholds[0]!.retryBudget, undefined);
    assert.deepEqual(effectivePolicy({ retryBudget: { percent: 10 } }, { retryBudget: { percent: 50 } }, 80).retryBudget, { percent: 50 });
  });
});

describe('retry budget arithmetic (Envoy: max(min_retry_concurrency, budget_percent × (active + pending)))', () => {
  it('scales with the active and pending requests; Envoy defaults 20 % and 3', () => {
    const tls = new TlsContextFactory(new MapSecretProvider());
    const make = (retryBudget: Record<string, unknown>) => new Cluster(compileCluster({ name: 'c', type: 'STATIC', connectTimeout: { seconds: 1 }, circuitBreakers: { thresholds: [{ retryBudget }] } }), new UpstreamConnector(tls), new ManualClock());
    const c = make({ budgetPercent: { value: 25 }, minRetryConcurrency: { value: 1 } });
    Object.assign(c.breaker, { requests: 8, pending: 4, retries: 2 });
    assert.equal(c.retryAllowed(), true, '2 < 25 % of 12');
    c.breaker.retries = 3;
    assert.equal(c.retryAllowed(), false);
    const d = make({});
    assert.deepEqual(d.config.limits.retryBudget, { percent: 20, minConcurrency: 3 });
    Object.assign(d.breaker, { requests: 0, pending: 0, retries: 2 });
    assert.equal(d.retryAllowed(), true, 'min_retry_concurrency 3');
    tls.close();
  });
});

describe('retry budget honoured by the proxy (real sockets)', () => {
  let h: Harness;
  let upstream: BarrierServer;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  before(async () => {
    upstream = await new BarrierServer().start();
    const endpoints: [string, number][] = [['127.0.0.1', upstream.port]];
    const retry = { retryOn: '5xx', numRetries: { value: 2 }, retryBackOff: { baseInterval: { seconds: 2 }, maxInterval: { seconds: 2 } } };
    h = await startHarness();
    await h.push({
      clusters: [
        // one concurrent retry, whatever max_retries says
        staticCluster('budget', endpoints, { circuitBreakers: { thresholds: [{ maxRetries: { value: 100 }, retryBudget: { budgetPercent: { value: 0 }, minRetryConcurrency: { value: 1 } } }] } }),
        staticCluster('plenty', endpoints, { circuitBreakers: { thresholds: [{ maxRetries: { value: 1 }, retryBudget: { budgetPercent: { value: 0 }, minRetryConcurrency: { value: 4 } } }] } }),
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/budget' }, { cluster: 'budget', retryPolicy: retry }),
        route({ prefix: '/plenty' }, { cluster: 'plenty', retryPolicy: retry }),
      ])])],
    });
    port = h.port('web');
  });

  after(async () => {
    agent.destroy();
    await h.close();
    await new Promise<void>((r) => upstream.server.close(() => r()));
  });

  it('allows min_retry_concurrency retries at once when the budget share is smaller', async () => {
    upstream.arm(4);
    const statuses = (await Promise.all([0, 1, 2, 3].map(() => request(port, { path: '/budget', agent })))).map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 503, 503, 503], 'one request retried, three refused a retry');
    assert.match(h.proxy.statsText(), /cluster\.budget\.upstream_rq_retry_overflow: 3\n/);
  });

  it('ignores max_retries when a budget is set', async () => {
    upstream.arm(4);
    const statuses = (await Promise.all([0, 1, 2, 3].map(() => request(port, { path: '/plenty', agent })))).map((r) => r.status);
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assert.match(h.proxy.statsText(), /cluster\.plenty\.upstream_rq_retry_overflow: 0\n/);
  });
});
