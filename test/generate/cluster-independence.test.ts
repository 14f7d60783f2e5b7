import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KINDS_WITHOUT_CLUSTERS } from '../../src/control/push/push-scope.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

/**
 * push-scope.ts leaves CDS out of a push caused only by KINDS_WITHOUT_CLUSTERS. That holds only
 * while no cluster generator reads those kinds: the clusters of every proxy type must be the same
 * with and without them.
 */
describe('clusters do not depend on the kinds whose changes skip CDS', () => {
  const docs = RICH_CONFIG.split(/^---$/m);
  const without = docs.filter((d) => !KINDS_WITHOUT_CLUSTERS.has(/^kind: (\S+)/m.exec(d)?.[1] ?? '')).join('---');
  const extra = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: extra, namespace: default }
spec: { hosts: [details], http: [{ route: [{ destination: { host: reviews, subset: v2 } }], timeout: 3s, retries: { attempts: 5 } }] }
`;
  const full = pushContext(RICH_CONFIG + extra, RICH_SERVICES, RICH_ENDPOINTS);
  const bare = pushContext(without, RICH_SERVICES, RICH_ENDPOINTS);

  it('removes the documents of those kinds (the comparison is not empty)', () => {
    assert.ok(docs.length - without.split(/^---$/m).length >= 6, 'VirtualServices, Gateway and policies were removed');
  });

  const cases = [
    ['sidecar', proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' }), undefined],
    ['router', proxy({ type: 'router', namespace: 'istio-system', ip: '10.244.0.50', labels: { istio: 'ingressgateway' }, pod: 'gw-0' }), undefined],
    ['proxyless gRPC client', proxy({ ip: '10.244.0.60', grpc: true, pod: 'grpc-0' }), ['reviews.default.svc.cluster.local:9080', 'ratings.default.svc.cluster.local:9080']],
  ] as const;
  for (const [label, p, targets] of cases) {
    it(`gives a ${label} the same clusters`, () => {
      const a = generateAll(p, full, targets).clusters;
      assert.ok(a.length > 0);
      assert.deepEqual(generateAll(p, bare, targets).clusters, a);
    });
  }
});
