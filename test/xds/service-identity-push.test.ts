import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { Discovery } from '../../src/control/discovery.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createLogFactory } from '../../src/lib/log.ts';
import { pod } from '../registry/registry-helpers.ts';
import { AdsTestClient, sidecarNode, type DecodedResponse } from './support/ads-test-client.ts';
import { envoyRoot } from './support/ads-harness.ts';

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  clusterIP: 10.96.0.11
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
`;

type Cluster = { name: string; transportSocketMatches?: { name: string; transportSocket: { typedConfig: { value: Buffer } } }[] };

/**
 * istiod pushes clusters (not only endpoints) when a service's service accounts change: the SAN
 * list of its mTLS clusters is part of CDS. Before, a pod with a new identity was pushed as EDS
 * only and every client kept checking for the old identities alone.
 */
describe('a new service account behind a service pushes its clusters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-sans-'));
  let d: Discovery;
  let c: AdsTestClient;
  const root = envoyRoot();
  const tlsType = root.lookupType('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');

  const sansOf = (resp: DecodedResponse, cluster: string): string[] => {
    const cl = (c.decode(resp) as unknown as Cluster[]).find((x) => x.name === cluster);
    const m = cl?.transportSocketMatches?.find((x) => x.name === 'tlsMode-istio');
    if (!m) return [];
    const tls = tlsType.toObject(tlsType.decode(m.transportSocket.typedConfig.value)) as { commonTlsContext: { combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames?: { exact: string }[] } } } };
    return (tls.commonTlsContext.combinedValidationContext.defaultValidationContext.matchSubjectAltNames ?? []).map((s) => s.exact);
  };

  before(async () => {
    writeFileSync(join(dir, 'svc.yaml'), SERVICE);
    writeFileSync(join(dir, 'pod-v1.yaml'), pod('reviews-v1', '10.244.0.11', { app: 'reviews', version: 'v1', 'security.istio.io/tlsMode': 'istio' }, { sa: 'bookinfo-reviews', ready: true }));
    d = new Discovery({
      configPaths: [dir], trustDomain: 'cluster.local', grpcAddr: '127.0.0.1:0', secureGrpcAddr: '127.0.0.1:0', httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10, debounceMaxMs: 1000, clock: systemClock, logs: createLogFactory({ levels: 'silent' }), rescanIntervalMs: 200,
    });
    const addrs = await d.start();
    c = new AdsTestClient(root, addrs.grpc, 'sotw');
  });
  after(async () => {
    c.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends CDS again with the new identity in every cluster of the service, the empty subset included', async () => {
    c.send({ node: sidecarNode('productpage-1', 'default'), typeUrl: TYPE_URL.cluster });
    const first = await c.next();
    c.send({ typeUrl: TYPE_URL.cluster, versionInfo: first.versionInfo, responseNonce: first.nonce });
    const v2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';
    assert.deepEqual(sansOf(first, v2), ['spiffe://cluster.local/ns/default/sa/bookinfo-reviews'], 'a subset with no pods yet checks the service identities');
    writeFileSync(join(dir, 'pod-v2.yaml'), pod('reviews-v2', '10.244.0.21', { app: 'reviews', version: 'v2', 'security.istio.io/tlsMode': 'istio' }, { sa: 'bookinfo-reviews-v2', ready: true }));
    let cds: DecodedResponse | undefined;
    for (let i = 0; i < 10 && !cds; i++) {
      const r = await c.next(10_000);
      c.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce });
      if (r.typeUrl === TYPE_URL.cluster) cds = r;
    }
    assert.ok(cds, 'a CDS push');
    const want = ['spiffe://cluster.local/ns/default/sa/bookinfo-reviews', 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews-v2'];
    assert.deepEqual(sansOf(cds, v2), want);
    assert.deepEqual(sansOf(cds, 'outbound|9080||reviews.default.svc.cluster.local'), want);
  });
});
