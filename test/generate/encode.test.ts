import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type protobuf from 'protobufjs';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { encodeProblems } from '../support/envoy-encode.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

describe('generated resources', () => {
  let root: protobuf.Root;
  before(() => {
    root = loadEnvoyRoot();
  });

  const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);
  const cases = [
    ['sidecar', proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' })],
    ['router', proxy({ type: 'router', namespace: 'istio-system', ip: '10.244.0.50', labels: { istio: 'ingressgateway' }, pod: 'gw-0' })],
    ['proxyless gRPC client', proxy({ grpc: true })],
  ] as const;

  for (const [label, p] of cases) {
    it(`encode with Envoy's protobuf types for a ${label}`, () => {
      const res = generateAll(p, push, p.generator === 'grpc' ? ['reviews.default.svc.cluster.local:9080', 'ratings:9080'] : undefined);
      assert.ok(res.listeners.length > 0 && res.clusters.length > 0 && res.routes.length > 0, 'something was generated');
      const problems = [
        ...encodeProblems(root, TYPE_URL.listener, res.listeners),
        ...encodeProblems(root, TYPE_URL.route, res.routes),
        ...encodeProblems(root, TYPE_URL.cluster, res.clusters),
        ...encodeProblems(root, TYPE_URL.endpoint, res.endpoints),
      ];
      assert.deepEqual(problems, []);
    });
  }
});

describe('resource sharing across proxies', () => {
  const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);

  it('gives proxies in the same scope the very same outbound objects, and their own inbound listener', () => {
    const a = generateAll(proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, pod: 'a' }), push);
    const b = generateAll(proxy({ ip: '10.244.0.21', labels: { app: 'reviews', version: 'v2' }, pod: 'b' }), push);
    const byName = (list: readonly { name: string; resource: object }[], n: string) => list.find((r) => r.name === n)!.resource;
    assert.equal(byName(a.clusters, 'outbound|9080||reviews.default.svc.cluster.local'), byName(b.clusters, 'outbound|9080||reviews.default.svc.cluster.local'));
    assert.equal(byName(a.routes, '9080'), byName(b.routes, '9080'));
    assert.equal(byName(a.listeners, '0.0.0.0_9080'), byName(b.listeners, '0.0.0.0_9080'));
    assert.equal(byName(a.endpoints, 'outbound|9080|v1|reviews.default.svc.cluster.local'), byName(b.endpoints, 'outbound|9080|v1|reviews.default.svc.cluster.local'));
    assert.notEqual(byName(a.listeners, 'virtualInbound'), byName(b.listeners, 'virtualInbound'));
  });

  it('builds separately for another namespace', () => {
    const a = generateAll(proxy({ namespace: 'default' }), push);
    const b = generateAll(proxy({ namespace: 'other' }), push);
    assert.notEqual(a.routes.find((r) => r.name === '9080')!.resource, b.routes.find((r) => r.name === '9080')!.resource);
  });
});
