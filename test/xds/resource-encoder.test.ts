import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { ResourceEncoder } from '../../src/control/xds/resource-encoder.ts';

const root = loadEnvoyRoot();
const RouteConfiguration = root.lookupType('envoy.config.route.v3.RouteConfiguration');

function vhost(i: number, weight = 100): Record<string, unknown> {
  return {
    name: `svc-${i}.ns.svc.cluster.local:80`,
    domains: [`svc-${i}.ns.svc.cluster.local`, `svc-${i}`],
    routes: [{
      name: 'default',
      match: { prefix: '/' },
      route: {
        weightedClusters: { clusters: [{ name: `outbound|80|v1|svc-${i}`, weight }, { name: `outbound|80|v2|svc-${i}`, weight: 100 - weight }] },
        timeout: '0s',
        retryPolicy: { retryOn: 'connect-failure', numRetries: 2, retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }], hostSelectionRetryMaxAttempts: '5' },
      },
    }],
    includeRequestAttemptCount: true,
  };
}

function routeConfig(n: number, changed?: number): Record<string, unknown> {
  return { name: '80', virtualHosts: Array.from({ length: n }, (_, i) => vhost(i, i === changed ? 50 : 100)), validateClusters: false, ignorePortInHostMatching: true };
}

function decoded(bytes: Uint8Array): unknown {
  return RouteConfiguration.toObject(RouteConfiguration.decode(bytes), { longs: String, enums: String, defaults: false });
}

describe('ResourceEncoder: large route configurations, virtual host by virtual host', () => {
  it('encodes the same message as a whole-message encoding, and only the changed virtual host again', () => {
    const enc = new ResourceEncoder(root);
    const big = enc.encode(TYPE_URL.route, { name: '80', resource: routeConfig(40) });
    assert.equal(enc.virtualHostEncodes, 40);
    const small = enc.encode(TYPE_URL.route, { name: '80', resource: { name: '80', virtualHosts: [vhost(0)], validateClusters: false, ignorePortInHostMatching: true } });
    assert.equal(enc.virtualHostEncodes, 40, 'below the split size: encoded whole');
    // The reference: the same configuration encoded as one message (field order on the wire
    // differs, the decoded message does not).
    const reference = RouteConfiguration.encode(RouteConfiguration.fromObject(protoJsonToObject(RouteConfiguration, routeConfig(40)).object)).finish();
    assert.notDeepEqual(Buffer.from(big.value), Buffer.from(reference), 'a different byte order');
    assert.deepEqual(decoded(big.value), decoded(reference));
    assert.equal((decoded(big.value) as { virtualHosts: unknown[] }).virtualHosts.length, 40);
    assert.equal((decoded(small.value) as { virtualHosts: unknown[] }).virtualHosts.length, 1);
    assert.deepEqual(
      (decoded(big.value) as { virtualHosts: { name: string }[] }).virtualHosts.map((v) => v.name),
      Array.from({ length: 40 }, (_, i) => `svc-${i}.ns.svc.cluster.local:80`),
      'virtual hosts keep their order',
    );
    const edited = enc.encode(TYPE_URL.route, { name: '80', resource: routeConfig(40, 7) });
    assert.equal(enc.virtualHostEncodes, 41, 'one virtual host changed: one encoded');
    assert.notEqual(edited.version, big.version);
    const hosts = (decoded(edited.value) as { virtualHosts: { routes: { route: { weightedClusters: { clusters: { weight: { value: number } }[] } } }[] }[] }).virtualHosts;
    assert.equal(hosts[7]!.routes[0]!.route.weightedClusters.clusters[0]!.weight.value, 50);
    assert.equal(hosts[8]!.routes[0]!.route.weightedClusters.clusters[0]!.weight.value, 100);
  });

  it('names the resource and the field when a virtual host does not encode', () => {
    const enc = new ResourceEncoder(root);
    const bad = routeConfig(40);
    const route = ((bad.virtualHosts as Record<string, unknown>[])[3]!.routes as Record<string, Record<string, unknown>>[])[0]!;
    route.route!.timeout = 'soon';
    assert.throws(() => enc.encode(TYPE_URL.route, { name: '80', resource: bad }), /RouteConfiguration "80" does not encode: .*soon/);
  });
});
