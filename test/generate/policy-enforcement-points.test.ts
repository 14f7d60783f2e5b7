import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

const gw = proxy({ type: 'router', namespace: 'istio-system', ip: '10.244.0.50', labels: { istio: 'ingressgateway' }, pod: 'gw-0' });
const reviews = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-v1' });
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('policies on an ingress gateway (Istio ingress access control)', () => {
  const push = pushContext(`${RICH_CONFIG}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ingress-policy, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  action: DENY
  rules: [{ to: [{ operation: { paths: [/productpage/admin*] } }] }, { from: [{ source: { ipBlocks: [203.0.113.0/24] } }] }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-gw, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  jwtRules: [{ issuer: testing@secure.istio.io, jwks: '{"keys":[]}' }]
`, RICH_SERVICES, RICH_ENDPOINTS);
  const sim = simulator(gw, push);

  it('runs jwt_authn and RBAC on the gateway HCM, as on a sidecar inbound', () => {
    const r = sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/productpage' });
    assert.equal(r.denied, undefined);
    assert.ok(r.httpFilters!.indexOf('envoy.filters.http.jwt_authn') < r.httpFilters!.indexOf('envoy.filters.http.rbac'));
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/productpage/admin/x' }).denied, 'rbac');
    assert.equal(sim.run({ mode: 'gateway', port: 80, host: 'x', path: '/productpage', sourceIp: '203.0.113.9' }).denied, 'rbac');
  });

  it('puts network RBAC before tcp_proxy on passthrough chains', () => {
    const chain = sim.listener('0.0.0.0_15443')!.filterChains[0];
    assert.deepEqual(chain.filters.map((f: Json) => f.name), ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
  });

  it('a gateway policy does not reach sidecars', () => {
    const side = simulator(reviews, push);
    assert.equal(JSON.stringify(side.listener('virtualInbound')).includes('ingress-policy'), false);
  });
});

describe('policy attachment and conditions', () => {
  it('ignores targetRef policies for sidecars (istiod applies them to gateways/waypoints only)', () => {
    const push = pushContext(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: waypoint-deny, namespace: default }
spec:
  targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: waypoint }]
  action: DENY
  rules: [{}]
`, RICH_SERVICES, RICH_ENDPOINTS);
    const sim = simulator(reviews, push);
    assert.equal(sim.run({ mode: 'inbound', address: '10.244.0.11', port: 9080, host: 'reviews', tls: true, path: '/' }).denied, undefined);
  });

  it('enforces source.serviceAccount and source.trustDomain conditions (never dropped)', () => {
    const push = pushContext(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: by-sa, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - when: [{ key: source.serviceAccount, values: [productpage] }, { key: source.trustDomain, values: [cluster.local] }]
`, RICH_SERVICES, RICH_ENDPOINTS);
    const sim = simulator(reviews, push);
    const req = (principal: string) => sim.run({ mode: 'inbound', address: '10.244.0.11', port: 9080, host: 'reviews', tls: true, path: '/', principal });
    assert.equal(req('spiffe://cluster.local/ns/default/sa/productpage').denied, undefined);
    assert.equal(req('spiffe://cluster.local/ns/default/sa/ratings').denied, 'rbac');
    assert.equal(req('spiffe://other.domain/ns/default/sa/productpage').denied, 'rbac');
  });
});

describe('client certificate checks on gateway servers and DestinationRules', () => {
  const push = pushContext(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: mtls, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 8443, name: https, protocol: HTTPS }
    hosts: ["*"]
    tls: { mode: MUTUAL, serverCertificate: /c/cert.pem, privateKey: /c/key.pem, caCertificates: /c/ca.pem, caCrl: /c/ca.crl, subjectAltNames: [client.example.com], minProtocolVersion: TLSV1_3 }
  - port: { number: 9443, name: pinned, protocol: HTTPS }
    hosts: ["*"]
    tls: { mode: MUTUAL, credentialName: c, verifyCertificateSpki: [abc=] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: all, namespace: default }
spec: { hosts: ["*"], gateways: [istio-system/mtls], http: [{ route: [{ destination: { host: productpage } }] }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: pg, namespace: default }
spec:
  host: pg.external
  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: /c/ca.pem, caCrl: /c/ca.crl } }
`, RICH_SERVICES, RICH_ENDPOINTS);

  it('a MUTUAL server checks SANs, the CRL and the TLS versions it sets', () => {
    const common = simulator(gw, push).listener('0.0.0.0_8443')!.filterChains[0].transportSocket.typedConfig.commonTlsContext;
    assert.deepEqual(common.validationContext, { trustedCa: { filename: '/c/ca.pem' }, crl: { filename: '/c/ca.crl' }, matchSubjectAltNames: [{ exact: 'client.example.com' }] });
    assert.deepEqual(common.tlsParams, { tlsMinimumProtocolVersion: 'TLSv1_3' });
  });

  it('leaves out a server that pins client certificates (fails closed: no listener)', () => {
    assert.equal(simulator(gw, push).listener('0.0.0.0_9443'), undefined);
  });

  it('a DestinationRule caCrl becomes the cluster validation CRL', () => {
    const c = simulator(reviews, push).cluster('outbound|5432||pg.external')!;
    assert.deepEqual(c.transportSocket.typedConfig.commonTlsContext.validationContext.crl, { filename: '/c/ca.crl' });
  });
});
