import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamInfo } from '../../src/data/l7/stream-info.ts';
import { IstioMetrics } from '../../src/data/telemetry/istio-metrics.ts';
import { UNKNOWN_PEER } from '../../src/data/telemetry/istio-labels.ts';
import { STATS_KEY, type StatsPolicy } from '../../src/data/telemetry/stats-policy.ts';

describe('IstioMetrics labels', () => {
  it('counts a request the inbound side answered itself (RBAC 403: no cluster) in the workload\'s namespace', () => {
    const self = { ...UNKNOWN_PEER, workload: 'productpage-v1', namespace: 'shop', app: 'productpage' };
    const m = new IstioMetrics({ self, selfPrincipal: 'spiffe://cluster.local/ns/shop/sa/bookinfo-productpage' });
    const denied = (authority: string): void => {
      const info = new StreamInfo();
      info.direction = 'INBOUND';
      info.listenerName = 'virtualInbound';
      info.protocol = 'HTTP/1.1';
      info.authority = authority;
      info.responseCode = 403;
      // the HCM's istio.stats filter ran (no Telemetry overrides): HTTP metrics are recorded
      info.filterState.set(STATS_KEY, { metrics: new Map(), readsHeaders: false, waypoint: false } satisfies StatsPolicy);
      m.onStreamComplete(info);
    };
    denied('productpage:9080');
    denied('productpage.shop:9080');
    denied('productpage.shop.svc.cluster.local:9080');
    const lines = m.text().split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    assert.equal(lines.length, 3, m.text());
    for (const l of lines) {
      assert.match(l, /destination_service_namespace="shop"/);
      assert.match(l, /destination_service_name="productpage"/);
      assert.match(l, /response_code="403"/);
    }
  });

  it('asks the live cluster for its service on every request: a cluster missing at the first request does not stay unknown', () => {
    // seen under load: the first inbound request raced the inbound cluster, the miss was cached
    // by name, and every later request fell back to the Host header ("productpage") for good
    const self = { ...UNKNOWN_PEER, workload: 'productpage-v1', namespace: 'default', app: 'productpage' };
    let cluster: { host: string; name: string; namespace: string } | undefined;
    const m = new IstioMetrics({ self, selfPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', clusterService: (name) => (name === 'inbound|9080||' ? cluster : undefined) });
    const served = (): void => {
      const info = new StreamInfo();
      info.direction = 'INBOUND';
      info.listenerName = 'virtualInbound';
      info.protocol = 'HTTP/1.1';
      info.authority = 'productpage:9080';
      info.clusterName = 'inbound|9080||';
      info.responseCode = 200;
      info.filterState.set(STATS_KEY, { metrics: new Map(), readsHeaders: false, waypoint: false } satisfies StatsPolicy);
      m.onStreamComplete(info);
    };
    served();
    cluster = { host: 'productpage.default.svc.cluster.local', name: 'productpage', namespace: 'default' };
    served();
    served();
    const lines = m.text().split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    const known = lines.find((l) => l.includes('destination_service="productpage.default.svc.cluster.local"'));
    assert.ok(known, m.text());
    assert.match(known, /} 2$/, 'both requests after the cluster arrived carry its service');
  });
});
