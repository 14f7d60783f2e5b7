import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

const client = proxy({ ip: '10.244.0.10', labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'productpage' });
const REVIEWS = 'reviews.default.svc.cluster.local';

function http(host: string, extra: { path?: string; method?: string; headers?: Record<string, string>; address?: string; port?: number } = {}) {
  return { mode: 'outbound' as const, address: extra.address ?? '10.96.0.11', port: extra.port ?? 9080, host, path: extra.path ?? '/', method: extra.method, headers: extra.headers };
}

describe('sidecar outbound HTTP routing', () => {
  const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);
  const sim = simulator(client, push);

  it('hands a captured connection to the 0.0.0.0_PORT listener and the route config named by the port', () => {
    const r = sim.run(http('reviews'));
    assert.equal(r.listener, '0.0.0.0_9080');
    assert.equal(r.routeConfig, '9080');
    assert.equal(r.virtualHost, `${REVIEWS}:9080`);
  });

  it("answers Istio's domain aliases: short name, name.ns, name.ns.svc, FQDN and VIP, each with :PORT", () => {
    for (const host of ['reviews', 'reviews:9080', 'reviews.default', 'reviews.default:9080', 'reviews.default.svc', 'reviews.default.svc:9080', REVIEWS, `${REVIEWS}:9080`, '10.96.0.11', '10.96.0.11:9080']) {
      assert.equal(sim.run(http(host)).virtualHost, `${REVIEWS}:9080`, host);
    }
  });

  it('offers the short name only to proxies in the service namespace', () => {
    const other = simulator(proxy({ namespace: 'other', ip: '10.244.1.1' }), push);
    assert.equal(other.run(http('reviews')).virtualHost, 'allow_any');
    assert.equal(other.run(http('reviews.default')).virtualHost, `${REVIEWS}:9080`);
  });

  it('routes a service without VirtualService to its default cluster with the default retry policy and no timeout', () => {
    const r = sim.run(http('details', { address: '10.96.0.13' }));
    assert.equal(r.cluster, 'outbound|9080||details.default.svc.cluster.local');
    assert.deepEqual(r.endpoints, ['10.244.0.13:8080']);
    assert.equal(r.route!.route.timeout, '0s');
    assert.equal(r.route!.route.retryPolicy.numRetries, 2);
    assert.equal(r.route!.route.retryPolicy.retryOn, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
    // as the real istiod sends it (bench/fidelity): retriable-status-codes without codes
    assert.equal(r.route!.route.retryPolicy.retriableStatusCodes, undefined);
  });

  it("names the VirtualService a route came from in Istio's route metadata (what proxy-config routes shows)", () => {
    const r = sim.run(http('reviews', { headers: { 'end-user': 'jason' } }));
    assert.match(String(r.route!.metadata.filterMetadata.istio.config), /^\/apis\/networking\.istio\.io\/v1\/namespaces\/default\/virtual-service\/reviews$/);
    assert.equal(sim.run(http('details', { address: '10.96.0.13' })).route!.metadata, undefined);
  });

  it('sends a header match to its subset, and the subset cluster has only that version', () => {
    const r = sim.run(http('reviews', { headers: { 'end-user': 'jason' } }));
    assert.equal(r.routeName, 'jason');
    assert.equal(r.cluster, `outbound|9080|v2|${REVIEWS}`);
    assert.deepEqual(r.endpoints, ['10.244.0.21:9080']);
  });

  it('matches uri prefix with method, and uri regex with a query parameter (one Envoy route per match)', () => {
    assert.equal(sim.run(http('reviews', { path: '/api/x', method: 'POST' })).routeName, 'api');
    assert.equal(sim.run(http('reviews', { path: '/api/x', method: 'GET' })).routeName, 'split');
    assert.equal(sim.run(http('reviews', { path: '/v2/items?debug=1' })).routeName, 'api');
    assert.equal(sim.run(http('reviews', { path: '/v2/items?debug=0' })).routeName, 'split');
  });

  it('applies rewrite, timeout, retries, mirror, header operations and CORS on the matched route', () => {
    const r = sim.run(http('reviews', { path: '/api/x', method: 'POST' })).route!;
    assert.equal(r.route.prefixRewrite, '/');
    assert.equal(r.route.hostRewriteLiteral, 'reviews.internal');
    assert.equal(r.route.timeout, '3s');
    assert.deepEqual(r.route.retryPolicy.retriableStatusCodes, [503]);
    assert.equal(r.route.retryPolicy.retryOn, '5xx,retriable-status-codes');
    assert.equal(r.route.retryPolicy.numRetries, 3);
    assert.equal(r.route.retryPolicy.perTryTimeout, '1s');
    assert.deepEqual(r.route.requestMirrorPolicies, [{ cluster: 'outbound|9080||ratings.default.svc.cluster.local', runtimeFraction: { defaultValue: { numerator: 100000, denominator: 'MILLION' } }, traceSampled: false }]);
    assert.deepEqual(r.requestHeadersToAdd, [
      { header: { key: 'x-a', value: '1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-b', value: '2' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
    ]);
    assert.deepEqual(r.requestHeadersToRemove, ['x-c']);
    assert.deepEqual(r.responseHeadersToAdd, [{ header: { key: 'x-r', value: 'y' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    const cors = r.typedPerFilterConfig['envoy.filters.http.cors'];
    assert.deepEqual(cors.allowOriginStringMatch, [{ exact: 'https://a.example' }]);
    assert.equal(cors.allowMethods, 'GET');
    assert.equal(cors.maxAge, '86400');
    assert.equal(cors.allowCredentials, true);
  });

  it('injects faults through the fault filter per route', () => {
    const r = sim.run(http('reviews', { headers: { 'end-user': 'jason' } }));
    assert.ok(r.httpFilters!.indexOf('envoy.filters.http.fault') < r.httpFilters!.indexOf('envoy.filters.http.router'));
    const fault = r.route!.typedPerFilterConfig['envoy.filters.http.fault'];
    assert.deepEqual(fault.delay, { fixedDelay: '2s', percentage: { numerator: 500000, denominator: 'MILLION' } });
  });

  it('redirects and answers directly', () => {
    const moved = sim.run(http('reviews', { path: '/old' }));
    assert.deepEqual(moved.redirect, { pathRedirect: '/new', hostRedirect: 'example.com', responseCode: 'FOUND' });
    assert.deepEqual(sim.run(http('reviews', { path: '/gone' })).directResponse, { status: 410, body: { inlineString: 'gone' } });
  });

  it('splits by weight with per-destination headers, weights summing to 100', () => {
    const r = sim.run(http('reviews', { path: '/anything' }));
    assert.deepEqual(r.weightedClusters, [
      { name: `outbound|9080|v1|${REVIEWS}`, weight: 80 },
      { name: `outbound|9080|v3|${REVIEWS}`, weight: 20 },
    ]);
    assert.deepEqual(r.route!.route.weightedClusters.clusters[1].requestHeadersToAdd, [{ header: { key: 'x-canary', value: '1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
  });

  it('adds the consistent-hash policy of the destination rule (port-level) to the route', () => {
    const r = sim.run(http('reviews', { path: '/anything' }));
    assert.deepEqual(r.route!.route.hashPolicy, [{ header: { headerName: 'x-user' } }]);
  });

  it("retries on another host by default (Istio's previous_hosts predicate), but not when the route hashes to a host", () => {
    const plain = sim.run(http('details', { address: '10.96.0.13' })).route!.route.retryPolicy;
    assert.deepEqual(plain.retryHostPredicate, [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }]);
    assert.equal(plain.hostSelectionRetryMaxAttempts, '5');
    const hashed = sim.run(http('reviews', { path: '/anything' })).route!.route;
    assert.ok(hashed.hashPolicy, 'the reviews route hashes (port-level consistentHash)');
    assert.equal(hashed.retryPolicy.retryHostPredicate, undefined);
  });

  it("hashes a service's default route (no VirtualService) by its DestinationRule's consistentHash", () => {
    const push2 = pushContext(
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: cart, namespace: default }\nspec: { host: cart, trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: session, ttl: 60s } } } } }\n',
      [{ name: 'cart', vip: '10.96.8.8', ports: [{ port: 8080 }] }, { name: 'plain', vip: '10.96.8.9', ports: [{ port: 8080 }] }],
      [{ service: 'cart', address: '10.244.8.8' }, { service: 'plain', address: '10.244.8.9' }],
    );
    const s2 = simulator(client, push2);
    const cart = s2.run(http('cart', { address: '10.96.8.8', port: 8080 })).route!.route;
    assert.deepEqual(cart.hashPolicy, [{ cookie: { name: 'session', ttl: '60s' } }]);
    assert.equal(cart.retryPolicy.retryHostPredicate, undefined, 'affinity: no retry on another host');
    const plain = s2.run(http('plain', { address: '10.96.8.9', port: 8080 })).route!.route;
    assert.equal(plain.hashPolicy, undefined);
    assert.equal(plain.retryPolicy.retryHostPredicate.length, 1);
  });

  it("keeps Istio's default conditions (no status codes) when a VirtualService sets only attempts; a retryOn replaces them", () => {
    const push2 = pushContext(
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: cart, namespace: default }\nspec: { hosts: [cart], http: [{ route: [{ destination: { host: cart } }], retries: { attempts: 4 } }] }\n' +
        '---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: plain, namespace: default }\nspec: { hosts: [plain], http: [{ route: [{ destination: { host: plain } }], retries: { attempts: 1, retryOn: reset } }] }\n',
      [{ name: 'cart', vip: '10.96.8.8', ports: [{ port: 8080 }] }, { name: 'plain', vip: '10.96.8.9', ports: [{ port: 8080 }] }],
      [{ service: 'cart', address: '10.244.8.8' }, { service: 'plain', address: '10.244.8.9' }],
    );
    const s2 = simulator(client, push2);
    const cart = s2.run(http('cart', { address: '10.96.8.8', port: 8080 })).route!.route.retryPolicy;
    assert.equal(cart.numRetries, 4);
    assert.equal(cart.retryOn, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
    assert.equal(cart.retriableStatusCodes, undefined);
    const plain = s2.run(http('plain', { address: '10.96.8.9', port: 8080 })).route!.route.retryPolicy;
    assert.equal(plain.retryOn, 'reset');
    assert.equal(plain.retriableStatusCodes, undefined);
  });

  it('sends unknown hosts to PassthroughCluster (ALLOW_ANY) and TCP services through VIP_PORT listeners', () => {
    const r = sim.run(http('unknown.example', { address: '1.2.3.4', port: 9080 }));
    assert.equal(r.virtualHost, 'allow_any');
    assert.equal(r.cluster, 'PassthroughCluster');
    const tcp = sim.run({ mode: 'outbound', address: '10.96.0.14', port: 27017, protocol: 'tcp' });
    assert.equal(tcp.listener, '10.96.0.14_27017');
    assert.equal(tcp.cluster, 'outbound|27017||mongodb.default.svc.cluster.local');
    assert.deepEqual(tcp.endpoints, ['10.244.0.14:27017']);
    const unknownTcp = sim.run({ mode: 'outbound', address: '8.8.8.8', port: 6543, protocol: 'tcp' });
    assert.equal(unknownTcp.listener, 'virtualOutbound');
    assert.equal(unknownTcp.cluster, 'PassthroughCluster');
  });

  it('chooses among external TLS hosts on one port by SNI, and passes unknown SNI through', () => {
    const push2 = pushContext('', [
      { name: 'x', hostname: 'a.example.com', registry: 'ServiceEntry', resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ port: 443, protocol: 'TLS' }] },
      { name: 'y', hostname: 'b.example.com', registry: 'ServiceEntry', resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ port: 443, protocol: 'TLS' }] },
    ]);
    const s2 = simulator(client, push2);
    const tls = (sni: string) => s2.run({ mode: 'outbound', address: '5.5.5.5', port: 443, protocol: 'tcp', tls: true, sni });
    assert.equal(tls('a.example.com').cluster, 'outbound|443||a.example.com');
    assert.equal(tls('b.example.com').cluster, 'outbound|443||b.example.com');
    assert.equal(tls('c.example.com').cluster, 'PassthroughCluster');
    assert.equal(tls('a.example.com').listener, '0.0.0.0_443');
  });

  it('sniffs ports without a declared protocol: HTTP gets routes, anything else is proxied as TCP', () => {
    const push2 = pushContext(
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: legacy, namespace: default }\nspec: { hosts: [legacy], http: [{ name: legacy-http, route: [{ destination: { host: legacy } }] }] }\n',
      [{ name: 'legacy', vip: '10.96.7.7', ports: [{ port: 7000, protocol: 'UNSUPPORTED' }] }],
      [{ service: 'legacy', address: '10.244.7.7' }],
    );
    const s2 = simulator(client, push2);
    const h = s2.run({ mode: 'outbound', address: '10.96.7.7', port: 7000, host: 'legacy:7000' });
    assert.equal(h.listener, '10.96.7.7_7000');
    assert.equal(h.routeName, 'legacy-http');
    // as istiod: the VIP's own route config (HOST:PORT), whose one virtual host takes any Host
    assert.equal(h.routeConfig, 'legacy.default.svc.cluster.local:7000');
    const anyHost = s2.run({ mode: 'outbound', address: '10.96.7.7', port: 7000, host: 'something-else' });
    assert.equal(anyHost.routeName, 'legacy-http');
    assert.equal(anyHost.cluster, 'outbound|7000||legacy.default.svc.cluster.local');
    const tls = s2.run({ mode: 'outbound', address: '10.96.7.7', port: 7000, protocol: 'tcp', tls: true, sni: 'legacy' });
    assert.equal(tls.cluster, 'outbound|7000||legacy.default.svc.cluster.local', 'TLS is not HTTP: the default chain proxies it');
    const tcp = s2.run({ mode: 'outbound', address: '10.96.7.7', port: 7000, protocol: 'tcp' });
    assert.equal(tcp.cluster, 'outbound|7000||legacy.default.svc.cluster.local');
    assert.deepEqual(tcp.networkFilters, ['envoy.filters.network.tcp_proxy']);
  });

  it('serves VirtualService hosts with no service on a port only on port 80, as istiod', () => {
    const push2 = pushContext(
      [
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: ext, namespace: default }\nspec: { hosts: [httpbin.org], http: [{ name: ext, route: [{ destination: { host: httpbin.org } }] }] }',
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: api, namespace: default }\nspec: { hosts: [api], http: [{ name: api-v1, route: [{ destination: { host: api, subset: v1 } }] }] }',
      ].join('\n---\n'),
      [{ name: 'api', vip: '10.96.8.1', ports: [{ port: 9080, protocol: 'HTTP' }] }, { name: 'web', vip: '10.96.8.2', ports: [{ port: 80, protocol: 'HTTP' }] }],
      [{ service: 'api', address: '10.244.8.1' }, { service: 'web', address: '10.244.8.2' }],
    );
    const s2 = simulator(client, push2);
    const on80 = s2.run({ mode: 'outbound', address: '93.184.216.34', port: 80, host: 'httpbin.org' });
    assert.equal(on80.virtualHost, 'httpbin.org:80');
    assert.equal(on80.cluster, 'outbound|80||httpbin.org', 'a destination without a port takes 80');
    assert.equal(s2.run({ mode: 'outbound', address: '93.184.216.34', port: 9080, host: 'httpbin.org' }).virtualHost, 'allow_any', 'not on other ports');
    // a service host on port 80 it does not have: istiod's port-80 virtual host (to a cluster that does not exist)
    const api80 = s2.run({ mode: 'outbound', address: '10.96.8.2', port: 80, host: 'api.default.svc.cluster.local' });
    assert.equal(api80.virtualHost, 'api.default.svc.cluster.local:80');
    assert.equal(api80.route!.route.cluster, 'outbound|80|v1|api.default.svc.cluster.local');
    assert.equal(s2.run({ mode: 'outbound', address: '10.96.8.1', port: 9080, host: 'api' }).cluster, 'outbound|9080|v1|api.default.svc.cluster.local');
  });

  it('matches ServiceEntry CIDR addresses by destination prefix', () => {
    const push2 = pushContext('', [
      { name: 'db', hostname: 'db.external', vip: '192.168.10.0/24', registry: 'ServiceEntry', resolution: 'NONE', location: 'MESH_EXTERNAL', ports: [{ port: 5432, protocol: 'TCP' }] },
      { name: 'other', hostname: 'other.external', registry: 'ServiceEntry', resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ port: 5432, protocol: 'TCP' }] },
    ]);
    const s2 = simulator(client, push2);
    const inRange = s2.run({ mode: 'outbound', address: '192.168.10.7', port: 5432, protocol: 'tcp' });
    assert.equal(inRange.listener, '0.0.0.0_5432');
    assert.equal(inRange.cluster, 'outbound|5432||db.external');
    assert.deepEqual(inRange.endpoints, ['192.168.10.7:5432'], 'resolution NONE: to the original destination');
    assert.equal(s2.run({ mode: 'outbound', address: '10.1.1.1', port: 5432, protocol: 'tcp' }).cluster, 'outbound|5432||other.external');
  });

  it('routes external ServiceEntry hosts (DNS) by their name', () => {
    const r = sim.run(http('httpbin.org', { address: '3.3.3.3', port: 80 }));
    assert.equal(r.cluster, 'outbound|80||httpbin.org');
    assert.equal(sim.cluster('outbound|80||httpbin.org')!.type, 'STRICT_DNS');
  });
});

describe('VirtualService semantics for sidecars', () => {
  const services = [
    { name: 'a', vip: '10.96.1.1', ports: [{ port: 80 }] },
    { name: 'b', vip: '10.96.1.2', ports: [{ port: 80 }] },
    { name: 'c', namespace: 'other', vip: '10.96.1.3', ports: [{ port: 80 }] },
  ];

  it('uses the first-created VirtualService when several name one host', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: first, namespace: default }
spec: { hosts: [a], http: [{ name: first, route: [{ destination: { host: a } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: second, namespace: default }
spec: { hosts: [a], http: [{ name: second, route: [{ destination: { host: b } }] }] }
`,
      services,
    );
    assert.equal(simulator(proxy({}), push).run(http('a', { address: '10.96.1.1', port: 80 })).routeName, 'first');
  });

  it('keeps first-match order and drops routes after a catch-all', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: a, namespace: default }
spec:
  hosts: [a]
  http:
  - { name: exact, match: [{ uri: { exact: /x } }], route: [{ destination: { host: b } }] }
  - { name: all, route: [{ destination: { host: a } }] }
  - { name: unreachable, match: [{ uri: { prefix: /y } }], route: [{ destination: { host: b } }] }
`,
      services,
    );
    const sim = simulator(proxy({}), push);
    assert.equal(sim.run(http('a', { address: '10.96.1.1', port: 80, path: '/x' })).cluster, 'outbound|80||b.default.svc.cluster.local');
    assert.equal(sim.run(http('a', { address: '10.96.1.1', port: 80, path: '/y' })).routeName, 'all');
    const vh = sim.routeConfig('80')!.virtualHosts.find((v: { name: string }) => v.name === 'a.default.svc.cluster.local:80');
    assert.deepEqual(vh.routes.map((r: { name: string }) => r.name), ['exact', 'all']);
  });

  it('applies sourceLabels, port and gateways match conditions per proxy', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: a, namespace: default }
spec:
  hosts: [a]
  http:
  - { name: canary-clients, match: [{ sourceLabels: { track: canary } }], route: [{ destination: { host: b } }] }
  - { name: other-port, match: [{ port: 8080 }], route: [{ destination: { host: b } }] }
  - { name: gw-only, match: [{ gateways: [some-gateway] }], route: [{ destination: { host: b } }] }
  - { name: rest, route: [{ destination: { host: a } }] }
`,
      services,
    );
    assert.equal(simulator(proxy({ labels: { track: 'canary' } }), push).run(http('a', { address: '10.96.1.1', port: 80 })).routeName, 'canary-clients');
    assert.equal(simulator(proxy({ labels: { track: 'stable' } }), push).run(http('a', { address: '10.96.1.1', port: 80 })).routeName, 'rest');
  });

  it('inlines delegate VirtualServices under the root match', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: root, namespace: default }
spec:
  hosts: [a]
  http:
  - match: [{ uri: { prefix: /b } }]
    delegate: { name: b-routes, namespace: other }
  - { name: rest, route: [{ destination: { host: a } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: b-routes, namespace: other }
spec:
  http:
  - { name: b-v2, match: [{ uri: { prefix: /b/v2 } }], route: [{ destination: { host: c } }] }
  - { name: b-any, route: [{ destination: { host: b.default.svc.cluster.local } }] }
`,
      services,
    );
    const sim = simulator(proxy({}), push);
    const v2 = sim.run(http('a', { address: '10.96.1.1', port: 80, path: '/b/v2/x' }));
    assert.equal(v2.routeName, 'b-v2');
    assert.equal(v2.cluster, 'outbound|80||c.other.svc.cluster.local');
    const bAny = sim.run(http('a', { address: '10.96.1.1', port: 80, path: '/b/zzz' }));
    assert.equal(bAny.routeName, 'b-any');
    assert.deepEqual(bAny.route!.match, { prefix: '/b', caseSensitive: true });
    assert.equal(sim.run(http('a', { address: '10.96.1.1', port: 80, path: '/q' })).routeName, 'rest');
  });

  it('honours exportTo on VirtualServices and services', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: a-private, namespace: default }
spec: { hosts: [a], exportTo: ["."], http: [{ name: private, route: [{ destination: { host: b } }] }] }
`,
      [...services, { name: 'secret', namespace: 'default', vip: '10.96.1.9', ports: [{ port: 80 }], exportTo: ['.'] }],
    );
    assert.equal(simulator(proxy({}), push).run(http('a', { address: '10.96.1.1', port: 80 })).routeName, 'private');
    const other = simulator(proxy({ namespace: 'other', ip: '10.244.1.1' }), push);
    assert.equal(other.run(http('a.default', { address: '10.96.1.1', port: 80 })).routeName, 'default');
    assert.equal(other.run(http('secret.default', { address: '10.96.1.9', port: 80 })).virtualHost, 'allow_any');
    assert.equal(other.cluster('outbound|80||secret.default.svc.cluster.local'), undefined);
  });

  it('limits what a proxy sees to its Sidecar egress hosts, and blocks the rest with REGISTRY_ONLY', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ["./a.default.svc.cluster.local", "other/*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`,
      services,
    );
    const sim = simulator(proxy({}), push);
    assert.ok(sim.cluster('outbound|80||a.default.svc.cluster.local'));
    assert.ok(sim.cluster('outbound|80||c.other.svc.cluster.local'));
    assert.equal(sim.cluster('outbound|80||b.default.svc.cluster.local'), undefined);
    const blocked = sim.run(http('b', { address: '10.96.1.2', port: 80 }));
    assert.deepEqual(blocked.directResponse, { status: 502 });
    assert.equal(sim.run({ mode: 'outbound', address: '8.8.8.8', port: 5432, protocol: 'tcp' }).cluster, 'BlackHoleCluster');
  });

  it('sends TLS by SNI through a VirtualService tls route, and applies mirrors and case-insensitive uri matches', () => {
    const push = pushContext(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ext, namespace: default }
spec:
  hosts: [api.example.com]
  tls: [{ match: [{ port: 443, sniHosts: [api.example.com] }], route: [{ destination: { host: egress.example.com, port: { number: 443 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: a, namespace: default }
spec:
  hosts: [a]
  http:
  - name: shout
    match: [{ uri: { prefix: /LOUD }, ignoreUriCase: true }]
    mirrors: [{ destination: { host: b }, percentage: { value: 25 } }, { destination: { host: c.other.svc.cluster.local } }]
    route: [{ destination: { host: a } }]
`,
      [
        ...services,
        { name: 'api', hostname: 'api.example.com', registry: 'ServiceEntry', resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ port: 443, protocol: 'TLS' }] },
        { name: 'egress', hostname: 'egress.example.com', registry: 'ServiceEntry', resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ port: 443, protocol: 'TLS' }] },
      ],
    );
    const sim = simulator(proxy({}), push);
    assert.equal(sim.run({ mode: 'outbound', address: '9.9.9.9', port: 443, protocol: 'tcp', tls: true, sni: 'api.example.com' }).cluster, 'outbound|443||egress.example.com');
    const r = sim.run(http('a', { address: '10.96.1.1', port: 80, path: '/loud/x' }));
    assert.equal(r.routeName, 'shout');
    assert.deepEqual(
      r.route!.route.requestMirrorPolicies.map((m: { cluster: string; runtimeFraction: { defaultValue: { numerator: number } } }) => [m.cluster, m.runtimeFraction.defaultValue.numerator]),
      [
        ['outbound|80||b.default.svc.cluster.local', 250000],
        ['outbound|80||c.other.svc.cluster.local', 1000000],
      ],
    );
  });
});
