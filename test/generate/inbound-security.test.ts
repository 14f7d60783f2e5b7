import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

const reviewsProxy = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-v1' });
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/productpage';

function inbound(extra: { tls?: boolean; path?: string; method?: string; principal?: string; sourceIp?: string; headers?: Record<string, string>; port?: number; protocol?: 'tcp' }) {
  return { mode: 'inbound' as const, address: '10.244.0.11', port: extra.port ?? 9080, host: 'reviews:9080', tls: extra.tls ?? true, ...extra };
}

/** The HCM of the inbound chain for a port (the mesh mTLS one). */
function inboundHcm(l: any, port: number): any {
  const chain = l.filterChains.find((c: any) => c.name === `0.0.0.0_${port}` && c.filterChainMatch?.transportProtocol === 'tls');
  return chain.filters.find((f: any) => f.name === 'envoy.filters.network.http_connection_manager').typedConfig;
}

describe('inbound mTLS (PeerAuthentication)', () => {
  it('STRICT: only TLS with a required client certificate reaches inbound|PORT||', () => {
    const sim = simulator(reviewsProxy, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS));
    const ok = sim.run(inbound({ principal: PRODUCTPAGE, path: '/reviews/1' }));
    assert.equal(ok.listener, 'virtualInbound');
    assert.equal(ok.filterChain, '0.0.0.0_9080');
    assert.equal(ok.cluster, 'inbound|9080||');
    assert.deepEqual(ok.endpoints, ['10.244.0.11:9080']);
    const tls = ok.transportSocket!.typedConfig;
    assert.equal(tls.requireClientCertificate, true);
    assert.equal(tls.commonTlsContext.tlsCertificateSdsSecretConfigs[0].name, 'default');
    assert.equal(tls.commonTlsContext.combinedValidationContext.validationContextSdsSecretConfig.name, 'ROOTCA');
    assert.equal(sim.run(inbound({ tls: false })).error, 'no filter chain');
  });

  const base = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`;
  const services = [{ name: 'a', vip: '10.96.1.1', ports: [{ port: 80 }, { port: 81 }] }];
  const endpoints = [{ service: 'a', address: '10.244.2.1', labels: { app: 'a' } }];
  const aProxy = proxy({ ip: '10.244.2.1', labels: { app: 'a' } });

  it('a namespace policy overrides the mesh one; PERMISSIVE takes TLS and plaintext', () => {
    const push = pushContext(`${base}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: PERMISSIVE } }
`, services, endpoints);
    const sim = simulator(aProxy, push);
    const mesh = sim.run({ mode: 'inbound', port: 80, host: 'a', tls: true });
    assert.deepEqual([mesh.filterChain, mesh.cluster, mesh.transportSocket?.typedConfig.requireClientCertificate], ['0.0.0.0_80', 'inbound|80||', true]);
    const plain = sim.run({ mode: 'inbound', port: 80, host: 'a', tls: false });
    assert.deepEqual([plain.filterChain, plain.cluster, plain.transportSocket], ['0.0.0.0_80', 'inbound|80||', undefined]);
    // As with istiod's config in Envoy: a declared port's TLS without Istio's ALPN matches no chain
    // (the app's own TLS passes through only on ports no Service declares).
    assert.equal(sim.run({ mode: 'inbound', address: '10.244.2.1', port: 80, tls: true, alpn: [], protocol: 'tcp' }).error, 'no filter chain');
  });

  it('a workload policy with port-level DISABLE takes plaintext only on that port', () => {
    const push = pushContext(`${base}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: a, namespace: default }
spec: { selector: { matchLabels: { app: a } }, portLevelMtls: { "81": { mode: DISABLE } } }
`, services, endpoints);
    const sim = simulator(aProxy, push);
    assert.equal(sim.run({ mode: 'inbound', port: 80, host: 'a', tls: false }).error, 'no filter chain');
    assert.equal(sim.run({ mode: 'inbound', port: 81, host: 'a', tls: false }).cluster, 'inbound|81||');
    assert.equal(sim.run({ mode: 'inbound', port: 81, host: 'a', tls: true }).error, 'no filter chain');
  });

  it('detects HTTP on plaintext ports without a declared protocol', () => {
    const push = pushContext(
      'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: istio-system }\nspec: { mtls: { mode: PERMISSIVE } }\n',
      [{ name: 'u', vip: '10.96.3.3', ports: [{ port: 7000, protocol: 'UNSUPPORTED' as const }] }],
      [{ service: 'u', address: '10.244.3.3' }],
    );
    const sim = simulator(proxy({ ip: '10.244.3.3' }), push);
    const http = sim.run({ mode: 'inbound', port: 7000, host: 'u', tls: false });
    assert.equal(http.filterChain, '0.0.0.0_7000');
    assert.equal(http.cluster, 'inbound|7000||');
    assert.ok(http.httpFilters, 'handled at L7');
    const tcp = sim.run({ mode: 'inbound', port: 7000, tls: false, protocol: 'tcp' });
    assert.deepEqual([tcp.filterChain, tcp.cluster, tcp.httpFilters], ['0.0.0.0_7000', 'inbound|7000||', undefined]);
    assert.equal(sim.run({ mode: 'inbound', port: 7000, tls: true, protocol: 'tcp' }).cluster, 'inbound|7000||');
  });

  it('passes other ports through to the original destination under the same mode', () => {
    const sim = simulator(aProxy, pushContext(base, services, endpoints));
    const r = sim.run({ mode: 'inbound', address: '10.244.2.1', port: 9999, tls: true, protocol: 'tcp' });
    assert.equal(r.filterChain, 'virtualInbound');
    assert.equal(r.cluster, 'InboundPassthroughCluster');
    assert.equal(r.transportSocket?.typedConfig.requireClientCertificate, true, 'STRICT: mTLS required on undeclared ports too');
  });
});

describe('AuthorizationPolicy as RBAC', () => {
  const sim = simulator(reviewsProxy, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS));

  it('runs jwt_authn, then the DENY RBAC filter, then the ALLOW one, before the router', () => {
    const r = sim.run(inbound({ principal: PRODUCTPAGE, path: '/reviews/1' }));
    assert.deepEqual(r.httpFilters, ['istio.metadata_exchange', 'envoy.filters.http.jwt_authn', 'envoy.filters.http.rbac', 'envoy.filters.http.rbac', 'envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats', 'envoy.filters.http.router']);
  });

  it('allows what a rule allows and denies everything else', () => {
    assert.equal(sim.run(inbound({ principal: PRODUCTPAGE, path: '/reviews/1' })).denied, undefined);
    assert.equal(sim.run(inbound({ principal: PRODUCTPAGE, path: '/reviews/1', method: 'POST' })).denied, 'rbac');
    assert.equal(sim.run(inbound({ principal: 'spiffe://cluster.local/ns/default/sa/other', path: '/reviews/1' })).denied, 'rbac');
    assert.equal(sim.run(inbound({ principal: PRODUCTPAGE, path: '/ratings' })).denied, 'rbac');
  });

  it('ANDs source fields and when conditions', () => {
    const mon = 'spiffe://cluster.local/ns/monitoring/sa/prom';
    assert.equal(sim.run(inbound({ principal: mon, sourceIp: '10.1.2.3', headers: { 'x-token': 'ok' } })).denied, undefined);
    assert.equal(sim.run(inbound({ principal: mon, sourceIp: '10.1.2.3' })).denied, 'rbac');
    assert.equal(sim.run(inbound({ principal: mon, sourceIp: '192.168.0.1', headers: { 'x-token': 'ok' } })).denied, 'rbac');
  });

  it('lets a namespace-wide DENY win over an ALLOW', () => {
    assert.equal(sim.run(inbound({ principal: PRODUCTPAGE, path: '/admin/x' })).denied, 'rbac');
  });

  it('names policies as Istio does', () => {
    const hcm = inboundHcm(sim.listener('virtualInbound')!, 9080);
    const allow = hcm.httpFilters[3].typedConfig.rules;
    assert.equal(allow.action, undefined, 'ALLOW is the default, left out as Istio does');
    assert.deepEqual(Object.keys(allow.policies), ['ns[default]-policy[reviews-viewer]-rule[0]', 'ns[default]-policy[reviews-viewer]-rule[1]']);
  });

  it('for TCP ports drops ALLOW rules that need HTTP attributes (so they match nothing)', () => {
    const push = pushContext(
      `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: db, namespace: default }
spec:
  selector: { matchLabels: { app: mongodb } }
  rules: [{ to: [{ operation: { methods: [GET] } }] }, { from: [{ source: { principals: [cluster.local/ns/default/sa/reviews] } }] }]
`,
      RICH_SERVICES,
      RICH_ENDPOINTS,
    );
    const db = simulator(proxy({ ip: '10.244.0.14', labels: { app: 'mongodb' } }), push);
    const rbac = db.listener('virtualInbound')!.filterChains.find((c: { name: string }) => c.name === '0.0.0.0_27017').filters.find((f: { name: string }) => f.name === 'envoy.filters.network.rbac');
    assert.equal(rbac.name, 'envoy.filters.network.rbac');
    assert.deepEqual(Object.keys(rbac.typedConfig.rules.policies), ['ns[default]-policy[db]-rule[1]']);
    const req = { mode: 'inbound' as const, port: 27017, tls: true, protocol: 'tcp' as const };
    assert.equal(db.run({ ...req, principal: 'spiffe://cluster.local/ns/default/sa/reviews' }).cluster, 'inbound|27017||');
    assert.equal(db.run({ ...req, principal: 'spiffe://cluster.local/ns/default/sa/other' }).denied, 'rbac');
  });
});

describe('RequestAuthentication as jwt_authn', () => {
  it('declares a provider per rule and lets requests without a token through', () => {
    const sim = simulator(reviewsProxy, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS));
    const hcm = inboundHcm(sim.listener('virtualInbound')!, 9080);
    const jwt = hcm.httpFilters[1].typedConfig;
    const provider = jwt.providers['origins-default-jwt-0'];
    assert.equal(provider.issuer, 'https://issuer.example');
    assert.deepEqual(provider.audiences, ['reviews']);
    assert.deepEqual(provider.localJwks, { inlineString: '{"keys":[]}' });
    assert.deepEqual(provider.fromHeaders, [{ name: 'x-jwt', valuePrefix: 'Bearer ' }]);
    assert.deepEqual(jwt.rules[0].requires.requiresAny.requirements, [{ providerName: 'origins-default-jwt-0' }, { allowMissing: {} }]);
  });
});
