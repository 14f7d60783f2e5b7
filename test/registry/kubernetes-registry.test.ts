import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRegistry } from '../../src/control/registry/build-registry.ts';
import { istioFile, pod, storeOf } from './registry-helpers.ts';

const BOOKINFO = 'samples/bookinfo/platform/kube/bookinfo.yaml';

/** Hand-made pods for Bookinfo's Deployments, as `mizzen up` would write them. */
const BOOKINFO_PODS = [
  pod('details-v1-1', '10.244.0.10', { app: 'details', version: 'v1', 'security.istio.io/tlsMode': 'istio' }, { sa: 'bookinfo-details', ready: true }),
  pod('ratings-v1-1', '10.244.0.11', { app: 'ratings', version: 'v1' }, { sa: 'bookinfo-ratings' }),
  pod('reviews-v1-1', '10.244.0.12', { app: 'reviews', version: 'v1', 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1a' }, { sa: 'bookinfo-reviews' }),
  pod('reviews-v2-1', '10.244.0.13', { app: 'reviews', version: 'v2' }, { sa: 'bookinfo-reviews', annotations: { 'sidecar.istio.io/status': '{}' } }),
  pod('reviews-v3-1', '10.244.0.14', { app: 'reviews', version: 'v3' }, { sa: 'bookinfo-reviews', ready: false }),
  pod('productpage-v1-1', '10.244.0.15', { app: 'productpage', version: 'v1' }, { sa: 'bookinfo-productpage' }),
].join('---\n');

describe('buildRegistry (Kubernetes)', () => {
  it('builds Bookinfo services and endpoints from its manifests plus pods', (t) => {
    const text = istioFile(BOOKINFO);
    if (!text) return t.skip(`${BOOKINFO} not found under ../shared/istio`);
    const reg = buildRegistry(storeOf(text, BOOKINFO_PODS));
    assert.deepEqual(
      reg.services.map((s) => s.hostname),
      ['details.default.svc.cluster.local', 'productpage.default.svc.cluster.local', 'ratings.default.svc.cluster.local', 'reviews.default.svc.cluster.local'],
    );
    const reviews = reg.service('reviews.default.svc.cluster.local')!;
    assert.equal(reviews.registry, 'Kubernetes');
    assert.equal(reviews.name, 'reviews');
    assert.deepEqual(reviews.ports, [{ name: 'http', port: 9080, protocol: 'HTTP', targetPort: 9080 }]);
    assert.deepEqual(reviews.selector, { app: 'reviews' });
    assert.deepEqual(reviews.exportTo, ['*']);
    assert.equal(reviews.resolution, 'STATIC');
    const eps = reg.endpoints('reviews.default.svc.cluster.local', 9080);
    assert.deepEqual(eps.map((e) => `${e.address}:${e.port} ${e.labels.version} ${e.healthy} ${e.tlsMode}`), [
      '10.244.0.12:9080 v1 true disabled',
      '10.244.0.13:9080 v2 true istio',
      '10.244.0.14:9080 v3 false disabled',
    ]);
    assert.equal(eps[0].serviceAccount, 'bookinfo-reviews');
    assert.equal(eps[0].workloadName, 'reviews-v1-1');
    assert.deepEqual(eps[0].locality, { region: 'eu', zone: 'eu-1a' });
    assert.equal(eps[0].servicePortName, 'http');
    const details = reg.endpoints('details.default.svc.cluster.local', 9080);
    assert.deepEqual(details.map((e) => [e.address, e.tlsMode, e.serviceAccount]), [['10.244.0.10', 'istio', 'bookinfo-details']]);
    assert.equal(reg.endpoints('details.default.svc.cluster.local', 1234).length, 0);
    assert.equal(reg.workloads.length, 6);
  });

  it('uses ClusterIP as VIP, resolves named targetPorts through container ports, and handles headless and ExternalName', () => {
    const reg = buildRegistry(
      storeOf(
        `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.20
  selector: {app: web}
  ports:
  - {name: http-web, port: 80, targetPort: web-port}
  - {name: grpc, port: 9000, targetPort: 9001}
  - {name: metrics, port: 9090}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: mysql-main, port: 3306}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: shop}
spec:
  type: ExternalName
  externalName: api.example.com
  ports: [{name: https, port: 443}]
`,
        pod('web-1', '10.244.1.1', { app: 'web' }, { ns: 'shop', ports: { 'web-port': 8080 } }),
        pod('web-2', '10.244.1.2', { app: 'web' }, { ns: 'shop' }),
        pod('db-1', '10.244.1.3', { app: 'db' }, { ns: 'shop' }),
        pod('web-other-ns', '10.244.1.9', { app: 'web' }, { ns: 'elsewhere', ports: { 'web-port': 8080 } }),
      ),
    );
    const web = reg.service('web.shop.svc.cluster.local')!;
    assert.deepEqual(web.addresses, ['10.96.0.20']);
    assert.deepEqual(web.ports.map((p) => p.protocol), ['HTTP', 'GRPC', 'UNSUPPORTED']);
    // named targetPort: only web-1 declares it; numeric targetPort: both pods
    assert.deepEqual(reg.endpoints(web.hostname, 80).map((e) => `${e.address}:${e.port}`), ['10.244.1.1:8080']);
    assert.deepEqual(reg.endpoints(web.hostname, 9000).map((e) => `${e.address}:${e.port}`), ['10.244.1.1:9001', '10.244.1.2:9001']);
    assert.deepEqual(reg.servicePort(web.hostname, 9000)?.port.name, 'grpc');
    const db = reg.service('db.shop.svc.cluster.local')!;
    assert.deepEqual(db.addresses, []);
    assert.equal(db.resolution, 'PASSTHROUGH');
    assert.equal(db.ports[0].protocol, 'MYSQL');
    const ext = reg.service('ext.shop.svc.cluster.local')!;
    assert.equal(ext.resolution, 'DNS');
    assert.equal(ext.location, 'MESH_EXTERNAL');
    assert.deepEqual(reg.endpoints(ext.hostname, 443).map((e) => `${e.address}:${e.port}`), ['api.example.com:443']);
  });

  it('prefers EndpointSlices, then Endpoints, over selector matching, with readiness', () => {
    const svc = (name: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ns}
spec:
  clusterIP: 10.96.0.${name.length}
  selector: {app: a}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;
    const reg = buildRegistry(
      storeOf(
        svc('sliced'),
        svc('listed'),
        `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: sliced-abc
  namespace: ns
  labels: {kubernetes.io/service-name: sliced}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [10.244.2.1]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: a-1}
- addresses: [10.244.2.2]
  conditions: {ready: false}
  zone: z2
---
apiVersion: v1
kind: Endpoints
metadata: {name: listed, namespace: ns}
subsets:
- addresses: [{ip: 10.244.3.1}]
  notReadyAddresses: [{ip: 10.244.3.2}]
  ports: [{name: http, port: 8081}]
`,
        pod('a-1', '10.244.2.1', { app: 'a', 'security.istio.io/tlsMode': 'istio' }, { ns: 'ns', sa: 'sa-a' }),
      ),
    );
    const sliced = reg.endpoints('sliced.ns.svc.cluster.local', 80);
    assert.deepEqual(sliced.map((e) => `${e.address}:${e.port}:${e.healthy}`), ['10.244.2.1:8080:true', '10.244.2.2:8080:false']);
    assert.equal(sliced[0].serviceAccount, 'sa-a');
    assert.equal(sliced[0].tlsMode, 'istio');
    assert.deepEqual(sliced[1].locality, { zone: 'z2' });
    const listed = reg.endpoints('listed.ns.svc.cluster.local', 80);
    assert.deepEqual(listed.map((e) => `${e.address}:${e.port}:${e.healthy}`), ['10.244.3.1:8081:true', '10.244.3.2:8081:false']);
  });

  it('reads exportTo from the annotation, resolving "." and falling back to the mesh default', () => {
    const store = storeOf(`apiVersion: v1
kind: Service
metadata:
  name: private
  namespace: team
  annotations: {networking.istio.io/exportTo: ".,ops"}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: plain, namespace: team}
spec: {ports: [{port: 80}]}
`);
    const reg = buildRegistry(store, { defaultServiceExportTo: ['.'] });
    assert.deepEqual(reg.service('private.team.svc.cluster.local')?.exportTo, ['ops', 'team']);
    assert.deepEqual(reg.service('plain.team.svc.cluster.local')?.exportTo, ['team']);
    assert.deepEqual(buildRegistry(store).service('plain.team.svc.cluster.local')?.exportTo, ['*']);
    assert.equal(buildRegistry(store, { domainSuffix: 'mesh.test' }).services[0].hostname, 'plain.team.svc.mesh.test');
  });

  it('adds WorkloadEntries its selector matches (VMs behind a Kubernetes service)', () => {
    const reg = buildRegistry(
      storeOf(
        `apiVersion: v1
kind: Service
metadata: {name: api, namespace: ns}
spec:
  clusterIP: 10.96.0.30
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: grpc, port: 90, targetPort: grpc-port}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: api-vm, namespace: ns}
spec:
  address: 192.168.0.7
  labels: {app: api}
  serviceAccount: api
  ports: {grpc-port: 9999}
`,
        pod('api-1', '10.244.7.1', { app: 'api' }, { ns: 'ns', ports: { 'grpc-port': 9000 } }),
      ),
    );
    assert.deepEqual(reg.endpoints('api.ns.svc.cluster.local', 80).map((e) => `${e.workloadName} ${e.address}:${e.port} ${e.tlsMode}`), ['api-1 10.244.7.1:8080 disabled', 'api-vm 192.168.0.7:8080 istio']);
    assert.deepEqual(reg.endpoints('api.ns.svc.cluster.local', 90).map((e) => `${e.address}:${e.port}`), ['10.244.7.1:9000', '192.168.0.7:9999']);
  });
});
