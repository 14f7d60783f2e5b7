import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

const gw = proxy({ type: 'router', namespace: 'istio-system', ip: '10.244.0.50', labels: { istio: 'ingressgateway' }, pod: 'gw-0' });

describe('router (gateway) listeners and routes', () => {
  const sim = simulator(gw, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS));

  it('turns an HTTP server into 0.0.0.0_PORT with route config http.PORT', () => {
    const r = sim.run({ mode: 'gateway', port: 80, host: 'anything.example', path: '/productpage' });
    assert.equal(r.listener, '0.0.0.0_80');
    assert.equal(r.routeConfig, 'http.80');
    assert.equal(r.cluster, 'outbound|9080||productpage.default.svc.cluster.local');
    assert.deepEqual(r.endpoints, ['10.244.0.10:9080']);
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/static/app.js' }).cluster, 'outbound|9080||productpage.default.svc.cluster.local');
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/other' }).error, 'no route');
  });

  it('terminates HTTPS with the credentialName over SDS, chain chosen by SNI', () => {
    const r = sim.run({ mode: 'gateway', port: 443, tls: true, sni: 'bookinfo.example.com', host: 'bookinfo.example.com', path: '/productpage' });
    assert.equal(r.listener, '0.0.0.0_443');
    assert.equal(r.routeConfig, 'https.443.https.bookinfo-gateway.default');
    assert.equal(r.cluster, 'outbound|9080||productpage.default.svc.cluster.local');
    const tls = r.transportSocket!.typedConfig;
    assert.equal(tls.commonTlsContext.tlsCertificateSdsSecretConfigs[0].name, 'kubernetes://bookinfo-cert');
    assert.equal(tls.requireClientCertificate, false);
    assert.deepEqual(sim.listener('0.0.0.0_443')!.listenerFilters.map((f: { name: string }) => f.name), ['envoy.filters.listener.tls_inspector']);
  });

  it('forwards PASSTHROUGH TLS by SNI to the clusters of tls routes', () => {
    const r = sim.run({ mode: 'gateway', port: 15443, tls: true, sni: 'passthrough.example.com', protocol: 'tcp' });
    assert.equal(r.cluster, 'outbound|443||httpbin.org');
    assert.equal(sim.run({ mode: 'gateway', port: 15443, tls: true, sni: 'other.example.com', protocol: 'tcp' }).error, 'no filter chain');
  });

  it('gives sidecar-only VirtualServices no gateway routes, and gateways no sidecar listeners', () => {
    const rc = sim.routeConfig('http.80')!;
    assert.ok(!JSON.stringify(rc).includes('reviews'));
    assert.equal(sim.listener('virtualOutbound'), undefined);
    assert.equal(sim.listener('virtualInbound'), undefined);
  });

  it('merges several VirtualServices for one gateway host in creation order and answers 404 for server hosts without one', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 8080, name: http, protocol: HTTP }, hosts: ["*/shop.example.com", "*/empty.example.com"], tls: { httpsRedirect: true } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: cart, namespace: default }
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http: [{ name: cart, match: [{ uri: { prefix: /cart } }], route: [{ destination: { host: details } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: catalog, namespace: default }
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http: [{ name: catalog, match: [{ uri: { prefix: /catalog } }], route: [{ destination: { host: productpage } }] }]
`,
      RICH_SERVICES,
      RICH_ENDPOINTS,
    );
    const s = simulator(gw, push);
    assert.equal(s.run({ mode: 'gateway', port: 8080, host: 'shop.example.com', path: '/cart/1' }).routeName, 'cart');
    assert.equal(s.run({ mode: 'gateway', port: 8080, host: 'shop.example.com:8080', path: '/catalog' }).routeName, 'catalog');
    assert.deepEqual(s.run({ mode: 'gateway', port: 8080, host: 'empty.example.com', path: '/' }).directResponse, { status: 404 });
    const vh = s.routeConfig('http.8080')!.virtualHosts.find((v: { name: string }) => v.name === 'shop.example.com:8080');
    assert.equal(vh.requireTls, 'ALL');
  });

  it('serves only Gateways whose selector matches the proxy', () => {
    const other = simulator(proxy({ type: 'router', namespace: 'istio-system', labels: { istio: 'egressgateway' } }), pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS));
    assert.equal(other.listener('0.0.0.0_80'), undefined);
  });

  it('tells a plaintext and a TLS server on one port apart by transport protocol', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: mixed, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 8443, name: http, protocol: HTTP }, hosts: ["*"] }
  - { port: { number: 8443, name: https, protocol: HTTPS }, hosts: ["*"], tls: { mode: SIMPLE, credentialName: any-cert } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: all, namespace: default }
spec: { hosts: ["*"], gateways: [istio-system/mixed], http: [{ name: all, route: [{ destination: { host: productpage } }] }] }
`,
      RICH_SERVICES,
      RICH_ENDPOINTS,
    );
    const s = simulator(gw, push);
    const matches = s.listener('0.0.0.0_8443')!.filterChains.map((c: { filterChainMatch: object }) => c.filterChainMatch);
    assert.deepEqual(matches, [{ transportProtocol: 'raw_buffer' }, { transportProtocol: 'tls' }]);
    assert.equal(s.run({ mode: 'gateway', port: 8443, host: 'x', path: '/' }).routeConfig, 'http.8443');
    assert.equal(s.run({ mode: 'gateway', port: 8443, tls: true, sni: 'x', host: 'x', path: '/' }).routeConfig, 'https.8443.https.mixed.istio-system');
  });

  it("binds a server port that names a port of the gateway's Service to its target port, as istiod (Istio's ingress task: 80 -> 8080)", () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: httpbin-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 80, name: http, protocol: HTTP }, hosts: ["httpbin.example.com"] }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 8080, name: http, protocol: HTTP }, hosts: ["*"] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: default }
spec:
  hosts: [httpbin.example.com]
  gateways: [httpbin-gateway]
  http: [{ name: status, match: [{ uri: { prefix: /status }, port: 80 }], route: [{ destination: { host: details } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http: [{ name: page, route: [{ destination: { host: productpage } }] }]
`,
      [...RICH_SERVICES, { name: 'istio-ingressgateway', namespace: 'istio-system', vip: '10.96.0.99', ports: [{ port: 80, name: 'http2' }, { port: 15021, name: 'status-port' }] }],
      [...RICH_ENDPOINTS, { service: 'istio-ingressgateway', namespace: 'istio-system', address: '10.244.0.50', targetPort: 8080, labels: { istio: 'ingressgateway' } }],
    );
    const s = simulator(gw, push);
    assert.ok(s.listener('0.0.0.0_8080'), 'both servers on the target port');
    assert.equal(s.listener('0.0.0.0_80'), undefined, 'none on 80');
    const r = s.run({ mode: 'gateway', port: 8080, host: 'httpbin.example.com', path: '/status/200' });
    assert.equal(r.routeConfig, 'http.8080');
    assert.equal(r.routeName, 'status', 'match.port names the server port as written');
    assert.equal(s.run({ mode: 'gateway', port: 8080, host: 'httpbin.example.com:80', path: '/status/200' }).routeName, 'status');
    assert.equal(s.run({ mode: 'gateway', port: 8080, host: 'bookinfo.example', path: '/productpage' }).routeName, 'page');
    const hcm = s.listener('0.0.0.0_8080')!.filterChains[0].filters[0].typedConfig;
    assert.equal(hcm.serverName, 'istio-envoy', "the ingress task's responses say server: istio-envoy");
  });
});
