import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

const reviews = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-v1' });
const client = proxy({ ip: '10.244.0.10', labels: { app: 'productpage' }, serviceAccount: 'productpage', pod: 'productpage-v1' });
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function inboundSans(sim: ReturnType<typeof simulator>): unknown {
  const chain = sim.listener('virtualInbound')!.filterChains.find((c: Json) => c.name === '0.0.0.0_9080' && c.transportSocket);
  return chain.transportSocket.typedConfig.commonTlsContext.combinedValidationContext.defaultValidationContext.matchSubjectAltNames;
}

function clusterSans(sim: ReturnType<typeof simulator>, name: string): unknown {
  const c = sim.cluster(name)!;
  const ts = c.transportSocket ?? c.transportSocketMatches.find((m: Json) => m.name === 'tlsMode-istio').transportSocket;
  return ts.typedConfig.commonTlsContext.combinedValidationContext.defaultValidationContext.matchSubjectAltNames;
}

describe('identity checks as istiod configures them', () => {
  it("inbound mTLS accepts only the mesh's trust domain", () => {
    assert.deepEqual(inboundSans(simulator(reviews, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS))), [{ prefix: 'spiffe://cluster.local/' }]);
  });

  it('and the trustDomainAliases of MeshConfig', () => {
    const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS, { trustDomain: 'new.td', trustDomainAliases: ['cluster.local', 'old.td'] });
    assert.deepEqual(inboundSans(simulator(reviews, push)), [{ prefix: 'spiffe://new.td/' }, { prefix: 'spiffe://cluster.local/' }, { prefix: 'spiffe://old.td/' }]);
  });

  it("a subset cluster whose pods do not exist yet still checks the service's identities", () => {
    const push = pushContext(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: details, namespace: default }
spec:
  host: details
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v9, labels: { version: v9 } }]
`, RICH_SERVICES, RICH_ENDPOINTS);
    const sim = simulator(client, push);
    const want = [{ exact: 'spiffe://cluster.local/ns/default/sa/details' }];
    assert.deepEqual(clusterSans(sim, 'outbound|9080|v9|details.default.svc.cluster.local'), want);
    assert.deepEqual(clusterSans(sim, 'outbound|9080||details.default.svc.cluster.local'), want);
  });

  it('a ServiceEntry subjectAltNames are checked (with the identities of its workloads)', () => {
    const services = [...RICH_SERVICES, { name: 'vm', hostname: 'vm.example.internal', registry: 'ServiceEntry' as const, vip: '10.96.9.9', ports: [{ port: 8080 }], subjectAltNames: ['spiffe://cluster.local/ns/vm/sa/vm-app'] }];
    const endpoints = [...RICH_ENDPOINTS, { service: 'vm', address: '10.1.2.3', serviceAccount: 'vm-workload' }];
    assert.deepEqual(clusterSans(simulator(client, pushContext('', services, endpoints)), 'outbound|8080||vm.example.internal'), [
      { exact: 'spiffe://cluster.local/ns/default/sa/vm-workload' },
      { exact: 'spiffe://cluster.local/ns/vm/sa/vm-app' },
    ]);
  });
});
