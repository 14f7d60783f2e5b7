import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayApiConfigView } from '../../src/control/gateway-api/gateway-api-config-view.ts';
import { PushContext } from '../../src/control/push/push-context.ts';
import { configFromYaml, proxy, simulator, staticRegistry, type ServiceSpec } from '../support/generate-fixture.ts';

const SERVICES: ServiceSpec[] = [
  { name: 'reviews', vip: '10.96.0.20', ports: [{ port: 9080 }] },
  { name: 'reviews-v1', vip: '10.96.0.21', ports: [{ port: 9080 }] },
  { name: 'reviews-v2', vip: '10.96.0.22', ports: [{ port: 9080 }] },
  { name: 'productpage', vip: '10.96.0.10', ports: [{ port: 9080 }] },
];

const CONFIG = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - matches: [{headers: [{name: end-user, value: jason}]}]
    backendRefs: [{name: reviews-v2, port: 9080}]
  - backendRefs:
    - {name: reviews-v1, port: 9080, weight: 90}
    - {name: reviews-v2, port: 9080, weight: 10}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bookinfo, namespace: default}
spec:
  parentRefs: [{name: bookinfo-gateway}]
  rules:
  - matches: [{path: {type: Exact, value: /productpage}}, {path: {type: PathPrefix, value: /static}}]
    backendRefs: [{name: productpage, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /gone}}]
    backendRefs: [{name: missing, namespace: elsewhere, port: 80}]
`;

function push(): PushContext {
  return new PushContext({ config: new GatewayApiConfigView(configFromYaml(CONFIG), 'cluster.local'), registry: staticRegistry(SERVICES, []), mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local' } });
}

describe('HTTPRoute for sidecars and gateways (one translation)', () => {
  it('a sidecar routes a Service-parented HTTPRoute: header match first, then the 90/10 split', () => {
    const sim = simulator(proxy({}), push());
    const jason = sim.run({ mode: 'outbound', address: '10.96.0.20', port: 9080, host: 'reviews:9080', path: '/reviews/1', headers: { 'end-user': 'jason' } });
    assert.equal(jason.cluster, 'outbound|9080||reviews-v2.default.svc.cluster.local');
    const other = sim.run({ mode: 'outbound', address: '10.96.0.20', port: 9080, host: 'reviews:9080', path: '/reviews/1' });
    assert.deepEqual(other.weightedClusters, [
      { name: 'outbound|9080||reviews-v1.default.svc.cluster.local', weight: 90 },
      { name: 'outbound|9080||reviews-v2.default.svc.cluster.local', weight: 10 },
    ]);
  });

  it('a gateway of class istio serves its HTTPRoutes: Exact and path-segment prefixes, 500 for a refused backend', () => {
    const gw = proxy({ type: 'router', namespace: 'default', labels: { 'gateway.networking.k8s.io/gateway-name': 'bookinfo-gateway' }, pod: 'bookinfo-gateway-istio-0' });
    const sim = simulator(gw, push());
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'bookinfo.example', path: '/productpage' }).cluster, 'outbound|9080||productpage.default.svc.cluster.local');
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/static/app.js' }).cluster, 'outbound|9080||productpage.default.svc.cluster.local');
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/staticfoo' }).error, 'no route');
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/productpage/x' }).error, 'no route');
    const gone = sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/gone' });
    assert.equal(gone.cluster, 'UnknownService');
    assert.equal(gone.route?.route?.clusterNotFoundResponseCode, 'INTERNAL_SERVER_ERROR');
    // a proxy that is not this Gateway's gets none of it
    const other = simulator(proxy({ type: 'router', namespace: 'default', labels: { istio: 'ingressgateway' }, pod: 'other-0' }), push());
    assert.equal(other.listener('0.0.0.0_80'), undefined);
  });
});
