import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PushContext } from '../../src/control/push/push-context.ts';
import { buildRegistry } from '../../src/control/registry/build-registry.ts';
import { configFromYaml, generateAll, proxy } from '../support/generate-fixture.ts';
import { XdsSimulator } from '../support/xds-simulator.ts';

/** Generation over the real registry: Kubernetes Services and Pods as `mizzen up` would feed them. */
const MANIFESTS = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, selector: { app: reviews }, ports: [{ name: http, port: 9080, targetPort: 8080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v1, namespace: default, labels: { app: reviews, version: v1, security.istio.io/tlsMode: istio } }
spec: { serviceAccountName: reviews, containers: [{ name: app, ports: [{ containerPort: 8080 }] }] }
status: { podIP: 10.244.0.21, phase: Running, conditions: [{ type: Ready, status: "True" }] }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v2, namespace: default, labels: { app: reviews, version: v2, security.istio.io/tlsMode: istio } }
spec: { serviceAccountName: reviews, containers: [{ name: app, ports: [{ containerPort: 8080 }] }] }
status: { podIP: 10.244.0.22, phase: Running, conditions: [{ type: Ready, status: "True" }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`;

describe('generation over the Kubernetes registry', () => {
  const config = configFromYaml(MANIFESTS);
  const mesh = { rootNamespace: 'istio-system', trustDomain: 'cluster.local' };
  const push = new PushContext({ config, registry: buildRegistry(config, mesh), mesh });

  it('routes a client by header to the pod of the subset, on the target port', () => {
    const sim = new XdsSimulator(generateAll(proxy({ ip: '10.244.0.9' }), push));
    const r = sim.run({ mode: 'outbound', address: '10.96.0.20', port: 9080, host: 'reviews:9080', headers: { 'end-user': 'jason' } });
    assert.equal(r.cluster, 'outbound|9080|v2|reviews.default.svc.cluster.local');
    assert.deepEqual(r.endpoints, ['10.244.0.22:8080']);
    assert.deepEqual(sim.run({ mode: 'outbound', address: '10.96.0.20', port: 9080, host: 'reviews' }).endpoints, ['10.244.0.21:8080']);
    const tls = sim.cluster('outbound|9080|v1|reviews.default.svc.cluster.local')!.transportSocketMatches[0].transportSocket.typedConfig;
    assert.deepEqual(tls.commonTlsContext.combinedValidationContext.defaultValidationContext.matchSubjectAltNames, [{ exact: 'spiffe://cluster.local/ns/default/sa/reviews' }]);
  });

  it("gives the pod's sidecar an inbound chain on its container port", () => {
    const sim = new XdsSimulator(generateAll(proxy({ ip: '10.244.0.21', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' }), push));
    const r = sim.run({ mode: 'inbound', address: '10.244.0.21', port: 8080, host: 'reviews:9080', tls: true });
    assert.equal(r.cluster, 'inbound|8080||');
    assert.deepEqual(r.endpoints, ['10.244.0.21:8080']);
  });
});
