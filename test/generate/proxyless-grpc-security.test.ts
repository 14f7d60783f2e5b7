import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { GeneratorRegistry } from '../../src/control/generate/generator-registry.ts';
import type { PushContext } from '../../src/control/push/push-context.ts';
import type { ProxyInfo } from '../../src/control/xds/proxy-info.ts';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';

const services = [{ name: 'echo', vip: '10.96.5.5', ports: [{ port: 7070, protocol: 'GRPC' as const }] }];
const endpoints = [{ service: 'echo', address: '10.244.5.1', labels: { app: 'echo' }, serviceAccount: 'echo-sa' }];
const TARGET = 'echo.default.svc.cluster.local:7070';
const SERVER_NAME = 'xds.istio.io/grpc/lds/inbound/0.0.0.0:7070';
const server = (labels: Record<string, string> = { app: 'echo' }): ProxyInfo => proxy({ grpc: true, ip: '10.244.5.1', labels, pod: 'echo-0' });

function listeners(p: ProxyInfo, push: PushContext, names: string[]): Record<string, any>[] {
  const gen = new GeneratorRegistry().get(TYPE_URL.listener, p)!;
  return gen.generate(p, push, { names }).map((r) => r.resource as Record<string, any>);
}

const FAULT = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
  - fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 50 } }, delay: { fixedDelay: 3s, percentage: { value: 10 } } }
    route: [{ destination: { host: echo } }]
`;

describe('proxyless gRPC faults (gRFC A33)', () => {
  it('puts the VirtualService fault on the route as the fault filter config the listener declares', () => {
    const sim = simulator(proxy({ grpc: true, ip: '10.244.9.9' }), pushContext(FAULT, services, endpoints), [TARGET]);
    const r = sim.run({ mode: 'grpc', target: TARGET, path: '/mizzen.test.Echo/Echo' });
    assert.deepEqual(r.route!.typedPerFilterConfig['envoy.filters.http.fault'], {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      delay: { fixedDelay: '3s', percentage: { numerator: 100000, denominator: 'MILLION' } },
      abort: { grpcStatus: 14, percentage: { numerator: 500000, denominator: 'MILLION' } },
    });
    assert.ok(sim.listener(TARGET)!.apiListener.apiListener.httpFilters.some((f: { name: string }) => f.name === 'envoy.filters.http.fault'));
  });
});

describe('proxyless gRPC mTLS (gRFC A29)', () => {
  const ISTIO_MUTUAL = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec: { host: echo, trafficPolicy: { tls: { mode: ISTIO_MUTUAL } } }
`;
  it('gives ISTIO_MUTUAL clusters a TLS socket naming the bootstrap certificate provider and the servers SANs', () => {
    const sim = simulator(proxy({ grpc: true, ip: '10.244.9.9' }), pushContext(ISTIO_MUTUAL, services, endpoints), [TARGET]);
    const c = sim.cluster('outbound|7070||echo.default.svc.cluster.local')!;
    assert.equal(c.transportSocket.name, 'envoy.transport_sockets.tls');
    const common = c.transportSocket.typedConfig.commonTlsContext;
    assert.deepEqual(common.tlsCertificateProviderInstance, { instanceName: 'default', certificateName: 'default' });
    assert.deepEqual(common.combinedValidationContext.defaultValidationContext, {
      caCertificateProviderInstance: { instanceName: 'default', certificateName: 'ROOTCA' },
      matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/default/sa/echo-sa' }],
    });
    assert.equal(common.tlsParams, undefined, 'gRPC NACKs tls_params');
  });

  it('leaves clusters plaintext without ISTIO_MUTUAL (as istiod: no auto mTLS for proxyless clients)', () => {
    const sim = simulator(proxy({ grpc: true, ip: '10.244.9.9' }), pushContext('', services, endpoints), [TARGET]);
    assert.equal(sim.cluster('outbound|7070||echo.default.svc.cluster.local')!.transportSocket, undefined);
  });

  it('serves a server listener with mTLS under STRICT, plaintext under PERMISSIVE unless the workload is labelled for Istio mTLS', () => {
    const strict = pushContext(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: STRICT } }
`, services, endpoints);
    const [l] = listeners(server(), strict, [SERVER_NAME]);
    assert.equal(l!.name, SERVER_NAME);
    assert.deepEqual(l!.address, { socketAddress: { address: '0.0.0.0', portValue: 7070 } });
    const ts = l!.filterChains[0].transportSocket.typedConfig;
    assert.equal(ts.requireClientCertificate, true);
    assert.equal(ts.commonTlsContext.tlsCertificateProviderInstance.instanceName, 'default');
    const permissive = pushContext('', services, endpoints);
    assert.equal(listeners(server(), permissive, [SERVER_NAME])[0]!.filterChains[0].transportSocket, undefined);
    assert.ok(listeners(server({ app: 'echo', 'security.istio.io/tlsMode': 'istio' }), permissive, [SERVER_NAME])[0]!.filterChains[0].transportSocket);
  });

  it('answers no server listener for a port the workload does not serve', () => {
    assert.deepEqual(listeners(server(), pushContext('', services, endpoints), ['xds.istio.io/grpc/lds/inbound/0.0.0.0:9999']), []);
  });
});

describe('proxyless gRPC RBAC (gRFC A41)', () => {
  it('turns DENY and ALLOW AuthorizationPolicies into two RBAC filters before the router, with a non-forwarding route', () => {
    const push = pushContext(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  selector: { matchLabels: { app: echo } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/mizzen.test.Echo/Admin"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-ns, namespace: default }
spec:
  selector: { matchLabels: { app: echo } }
  rules: [{ from: [{ source: { namespaces: [default] } }] }]
`, services, endpoints);
    const [l] = listeners(server(), push, [SERVER_NAME]);
    const hcm = l!.filterChains[0].filters[0].typedConfig;
    assert.deepEqual(hcm.httpFilters.map((f: { name: string }) => f.name), ['envoy.filters.http.rbac.DENY', 'envoy.filters.http.rbac', 'envoy.filters.http.router']);
    assert.equal(hcm.httpFilters[0].typedConfig.rules.action, 'DENY');
    assert.deepEqual(hcm.routeConfig.virtualHosts[0].routes, [{ match: { prefix: '/' }, nonForwardingAction: {} }]);
  });
});

describe('proxyless gRPC servers fail closed on policies Mizzen cannot enforce', () => {
  it('turns a CUSTOM policy into a DENY of what it selects and leaves dry-run rules out', () => {
    const push = pushContext(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: default }
spec:
  selector: { matchLabels: { app: echo } }
  action: CUSTOM
  provider: { name: my-ext-authz }
  rules: [{ to: [{ operation: { paths: [/mizzen.test.Echo/Admin] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: dry, namespace: default, annotations: { istio.io/dry-run: "true" } }
spec:
  selector: { matchLabels: { app: echo } }
  action: DENY
  rules: [{}]
`, services, endpoints);
    const filters = listeners(server(), push, [SERVER_NAME])[0]!.filterChains[0].filters[0].typedConfig.httpFilters as { name: string; typedConfig: Record<string, any> }[];
    assert.deepEqual(filters.map((f) => f.name), ['envoy.filters.http.rbac.CUSTOM0', 'envoy.filters.http.router']);
    assert.equal(filters[0]!.typedConfig.rules.action, 'DENY');
    assert.deepEqual(Object.keys(filters[0]!.typedConfig.rules.policies), ['istio-ext-authz-my-ext-authz-ns[default]-policy[ext-authz]-rule[0]-deny-due-to-bad-CUSTOM-action']);
  });
});

describe('proxyless gRPC servers and path templates', () => {
  it('give gRPC (no uri_template) the same match as a url_path regex', () => {
    const push = pushContext(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  selector: { matchLabels: { app: echo } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/mizzen.test.Echo/{*}"] } }] }]
`, services, endpoints);
    const text = JSON.stringify(listeners(server(), push, [SERVER_NAME])[0]);
    assert.ok(!text.includes('uriTemplate'));
    const regex = /"safeRegex":\{"regex":"([^"]+)"\}/.exec(text)![1]!.replaceAll('\\\\', '\\');
    assert.ok(new RegExp(regex).test('/mizzen.test.Echo/Echo'));
    assert.ok(!new RegExp(regex).test('/mizzen.test.Other/Echo'));
  });
});
