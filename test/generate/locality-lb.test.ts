import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator, type EndpointSpec } from '../support/generate-fixture.ts';

const HOST = 'helloworld.sample.svc.cluster.local';
const CLUSTER = `outbound|5000||${HOST}`;
const SERVICES = [{ name: 'helloworld', namespace: 'sample', ports: [{ port: 5000, protocol: 'HTTP' as const }] }];
const at = (address: string, region: string, zone: string, subzone?: string, labels: Record<string, string> = {}): EndpointSpec => ({
  service: 'helloworld', namespace: 'sample', address, labels: { app: 'helloworld', ...labels }, locality: { region, zone, ...(subzone ? { subzone } : {}) },
});
const ENDPOINTS = [
  at('10.0.0.1', 'region1', 'zone1', 'sub1', { version: 'v1' }),
  at('10.0.0.2', 'region1', 'zone1', 'sub2', { version: 'v2' }),
  at('10.0.0.3', 'region1', 'zone2', undefined, { version: 'v1' }),
  at('10.0.0.4', 'region2', 'zone1', undefined, { version: 'v2' }),
  at('10.0.0.5', 'region3', 'zone1', undefined, { version: 'v1' }),
];
const SLEEP: { namespace: string; labels: Record<string, string> } = { namespace: 'sample', labels: { app: 'sleep', version: 'v1', 'topology.kubernetes.io/region': 'region1', 'topology.kubernetes.io/zone': 'zone1', 'topology.istio.io/subzone': 'sub1' } };

const dr = (trafficPolicy: object): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: ${HOST}
  trafficPolicy: ${JSON.stringify(trafficPolicy)}
`;
const OUTLIER = { outlierDetection: { consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '1m' } };

interface Group {
  locality: { region?: string; zone?: string; subZone?: string };
  lbEndpoints: { endpoint: { address: { socketAddress: { address: string } } } }[];
  loadBalancingWeight: number;
  priority?: number;
}

/** address → [priority, locality weight] as the proxy gets them. */
function seen(yaml: string, p = SLEEP, mesh: object = { localityLbSetting: { enabled: true } }): { byAddress: Map<string, [number, number]>; cluster: Record<string, unknown> } {
  const sim = simulator(proxy({ ip: '10.244.0.50', ...p }), pushContext(yaml, SERVICES, ENDPOINTS, mesh));
  const cla = sim.loadAssignment(CLUSTER) as { endpoints: Group[] };
  const byAddress = new Map<string, [number, number]>();
  for (const g of cla.endpoints) for (const e of g.lbEndpoints) byAddress.set(e.endpoint.address.socketAddress.address, [g.priority ?? 0, g.loadBalancingWeight]);
  return { byAddress, cluster: sim.cluster(CLUSTER) as Record<string, unknown> };
}
const priorities = (m: Map<string, [number, number]>): number[] => ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map((a) => m.get(a)?.[0] ?? -1);

describe('locality load balancing (DestinationRule localityLbSetting, as istiod)', () => {
  it('without outlier detection, every locality stays at priority 0 (Envoy would never fail over)', () => {
    const { byAddress, cluster } = seen('');
    assert.deepEqual(priorities(byAddress), [0, 0, 0, 0, 0]);
    assert.equal((cluster.commonLbConfig as Record<string, unknown>).localityWeightedLbConfig, undefined);
  });

  it('with outlier detection: priorities by closeness to the proxy (subzone, zone, region, other regions)', () => {
    const { byAddress, cluster } = seen(dr(OUTLIER));
    assert.deepEqual(priorities(byAddress), [0, 1, 2, 3, 3]);
    assert.equal((cluster.commonLbConfig as Record<string, unknown>).localityWeightedLbConfig, undefined, 'default failover: no locality weights (as istiod)');
  });

  it('failover rules move the named region ahead of the others; priorities stay contiguous', () => {
    const { byAddress, cluster } = seen(dr({ ...OUTLIER, loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { enabled: true, failover: [{ from: 'region1', to: 'region3' }] } } }));
    assert.deepEqual(priorities(byAddress), [0, 1, 2, 4, 3]);
    assert.deepEqual((cluster.commonLbConfig as Record<string, unknown>).localityWeightedLbConfig, {});
  });

  it('each proxy sees priorities from its own locality', () => {
    const far = { namespace: 'sample', labels: { app: 'sleep', 'istio-locality': 'region3.zone1' } };
    assert.deepEqual(priorities(seen(dr(OUTLIER), far).byAddress), [1, 1, 1, 1, 0]);
    assert.deepEqual(priorities(seen(dr(OUTLIER)).byAddress), [0, 1, 2, 3, 3]);
  });

  it('distribute: locality weights from the matching rule (a wildcard shares its weight), unnamed localities get no endpoints', () => {
    const { byAddress, cluster } = seen(dr({ loadBalancer: { localityLbSetting: { enabled: true, distribute: [{ from: 'region1/zone1/*', to: { 'region1/zone1/*': 80, 'region2/zone1/*': 20 } }] } } }));
    assert.deepEqual(byAddress.get('10.0.0.1'), [0, 40]);
    assert.deepEqual(byAddress.get('10.0.0.2'), [0, 40]);
    assert.deepEqual(byAddress.get('10.0.0.4'), [0, 20]);
    assert.equal(byAddress.has('10.0.0.3'), false);
    assert.equal(byAddress.has('10.0.0.5'), false);
    assert.deepEqual((cluster.commonLbConfig as Record<string, unknown>).localityWeightedLbConfig, {});
  });

  it('failoverPriority: endpoints sharing the listed labels with the proxy first, in label order', () => {
    const { byAddress } = seen(dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { failoverPriority: ['version', 'topology.kubernetes.io/region'] } } }));
    // v1 + region1 → 0; v1 elsewhere → 1; other versions → 2
    assert.deepEqual(priorities(byAddress), [0, 2, 0, 2, 1]);
    const pinned = seen(dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { failoverPriority: ['version=v2'] } } })).byAddress;
    assert.deepEqual(priorities(pinned), [1, 0, 1, 0, 1]);
  });

  it('enabled: false on the rule, or a mesh that disables it, leaves every endpoint at priority 0', () => {
    assert.deepEqual(priorities(seen(dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { enabled: false } } })).byAddress), [0, 0, 0, 0, 0]);
    assert.deepEqual(priorities(seen(dr(OUTLIER), SLEEP, { localityLbSetting: { enabled: false } }).byAddress), [0, 0, 0, 0, 0]);
  });
});
