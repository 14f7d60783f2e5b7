import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRegistry } from '../../src/control/registry/build-registry.ts';
import { istioFile, pod, resources, storeOf } from './registry-helpers.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';

describe('buildRegistry (ServiceEntry)', () => {
  it('builds services from Istio\'s external sample: hosts, CIDR addresses, protocols, defaults', (t) => {
    const text = istioFile('samples/external/github.yaml');
    if (!text) return t.skip('samples/external/github.yaml not found under ../shared/istio');
    const reg = buildRegistry(storeOf(text));
    const https = reg.service('github.com')!;
    assert.equal(https.registry, 'ServiceEntry');
    assert.equal(https.namespace, 'default');
    assert.deepEqual(https.ports, [{ name: 'https', port: 443, protocol: 'HTTPS' }]);
    assert.equal(https.resolution, 'NONE');
    assert.equal(https.location, 'MESH_EXTERNAL');
    assert.deepEqual(https.exportTo, ['*']);
    assert.equal(reg.endpoints('github.com', 443).length, 0);
    const tcp = reg.service('dummy.github.com')!;
    assert.equal(tcp.addresses.length, 18);
    assert.ok(tcp.addresses.includes('140.82.112.0/20'));
    assert.equal(tcp.ports[0].protocol, 'TCP');
  });

  it('selects WorkloadEntries and Pods with workloadSelector, mapping ports by name', () => {
    const reg = buildRegistry(
      storeOf(
        `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: apps}
spec:
  hosts: [echo.apps.mesh]
  addresses: [240.240.0.1]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {name: grpc, number: 7070, protocol: GRPC, targetPort: 17070}
  - {name: http, number: 80, protocol: HTTP}
  workloadSelector:
    labels: {app: echo}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1, namespace: apps}
spec:
  address: 127.0.0.11
  labels: {app: echo, version: v1}
  serviceAccount: echo
  locality: us-east/us-east-1a/rack1
  weight: 3
  ports: {grpc: 50051}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v2, namespace: apps}
spec:
  address: 127.0.0.12
  labels: {app: echo, version: v2, security.istio.io/tlsMode: disabled}
  serviceAccount: echo
  network: net2
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-elsewhere, namespace: other}
spec:
  address: 127.0.0.13
  labels: {app: echo}
`,
        pod('echo-pod', '10.244.5.5', { app: 'echo', version: 'v3', 'security.istio.io/tlsMode': 'istio' }, { ns: 'apps', sa: 'echo', ports: { http: 8000 } }),
      ),
    );
    const svc = reg.service('echo.apps.mesh')!;
    assert.deepEqual(svc.addresses, ['240.240.0.1']);
    assert.equal(svc.location, 'MESH_INTERNAL');
    assert.equal(svc.resolution, 'STATIC');
    assert.deepEqual(svc.selector, { app: 'echo' });
    const grpc = reg.endpoints('echo.apps.mesh', 7070);
    assert.deepEqual(grpc.map((e) => `${e.workloadName} ${e.address}:${e.port} ${e.tlsMode}`), [
      'echo-pod 10.244.5.5:17070 istio',
      'echo-v1 127.0.0.11:50051 istio',
      'echo-v2 127.0.0.12:17070 disabled',
    ]);
    const v1 = grpc[1];
    assert.equal(v1.serviceAccount, 'echo');
    assert.deepEqual(v1.locality, { region: 'us-east', zone: 'us-east-1a', subzone: 'rack1' });
    assert.equal(v1.weight, 3);
    assert.equal(grpc[2].network, 'net2');
    assert.deepEqual(reg.endpoints('echo.apps.mesh', 80).map((e) => `${e.address}:${e.port}`), ['10.244.5.5:8000', '127.0.0.11:80', '127.0.0.12:80']);
    assert.equal(reg.workloads.filter((w) => w.kind === 'WorkloadEntry').length, 3);
  });

  it('uses inline endpoints, one service per host, and DNS hosts as endpoints', () => {
    const reg = buildRegistry(
      storeOf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: inline, namespace: ns1}
spec:
  hosts: [a.example.com, b.example.com]
  ports: [{name: http, number: 80, protocol: HTTP, targetPort: 8080}]
  resolution: STATIC
  exportTo: [".", ns2]
  subjectAltNames: [spiffe://cluster.local/ns/ns1/sa/inline]
  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}}
  - {address: 10.0.0.2, ports: {http: 9090}, serviceAccount: sa2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: ns1}
spec:
  hosts: [api.example.com, "*.wild.example.com"]
  ports: [{name: https, number: 443, protocol: TLS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: hidden, namespace: ns1}
spec:
  hosts: [hidden.example.com]
  ports: [{name: tcp, number: 1, protocol: TCP}]
  exportTo: ["~"]
`),
    );
    for (const host of ['a.example.com', 'b.example.com']) {
      const eps = reg.endpoints(host, 80);
      assert.deepEqual(eps.map((e) => `${e.address}:${e.port} ${e.tlsMode}`), ['10.0.0.1:8080 disabled', '10.0.0.2:9090 istio']);
      assert.deepEqual(reg.service(host)?.exportTo, ['ns1', 'ns2']);
      assert.deepEqual(reg.service(host)?.subjectAltNames, ['spiffe://cluster.local/ns/ns1/sa/inline']);
    }
    assert.deepEqual(reg.endpoints('api.example.com', 443).map((e) => `${e.address}:${e.port}`), ['api.example.com:443']);
    assert.equal(reg.endpoints('*.wild.example.com', 443).length, 0);
    assert.deepEqual(reg.service('hidden.example.com')?.exportTo, ['~']);
  });

  it('keeps same-host ServiceEntries of different namespaces apart', () => {
    const se = (ns: string, ip: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shared, namespace: ${ns}}
spec:
  hosts: [shared.example.com]
  ports: [{name: http, number: 80, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: ${ip}}]
`;
    const reg = buildRegistry(storeOf(se('a', '10.1.0.1'), se('b', '10.2.0.1')));
    assert.equal(reg.servicesByHost('shared.example.com').length, 2);
    assert.deepEqual(reg.endpoints('shared.example.com', 80, 'b').map((e) => e.address), ['10.2.0.1']);
    assert.deepEqual(reg.endpoints('shared.example.com', 80).map((e) => e.address), ['10.1.0.1', '10.2.0.1']);
  });

  it('completes auto-registered WorkloadEntries from their WorkloadGroup template', () => {
    const reg = buildRegistry(
      storeOf(`apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vm, namespace: vms}
spec:
  metadata:
    labels: {app: vm-app}
  template:
    serviceAccount: vm-sa
    ports: {http: 8080}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: vm-10.0.0.5
  namespace: vms
  annotations: {istio.io/autoRegistrationGroup: vm}
spec:
  address: 10.0.0.5
status:
  conditions: [{type: Healthy, status: "False"}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm-svc, namespace: vms}
spec:
  hosts: [vm.vms.mesh]
  ports: [{name: http, number: 80, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: vm-app}}
`),
    );
    const [e] = reg.endpoints('vm.vms.mesh', 80);
    assert.equal(e.address, '10.0.0.5');
    assert.equal(e.port, 8080);
    assert.equal(e.serviceAccount, 'vm-sa');
    assert.equal(e.tlsMode, 'istio');
    assert.equal(e.healthy, false);
  });

  it('reads Istio\'s valid ServiceEntry and WorkloadEntry documents', (t) => {
    const se = istioFile('pkg/config/validation/testdata/crds/serviceentry-valid.yaml');
    const we = istioFile('pkg/config/validation/testdata/crds/workloadentry-valid.yaml');
    if (!se || !we) return t.skip('Istio validation test data not found under ../shared/istio');
    const full = resources(se).find((r) => r.metadata.name === 'full')!;
    const entries = resources(we);
    const store = new ConfigStore();
    store.apply('test', [full, ...entries]);
    const reg = buildRegistry(store);
    const svc = reg.service('example.com')!;
    // `[1.2.3.4, 001:db8::]`: read as two strings, as Kubernetes' YAML parser does (see
    // restoreFlowColonScalars), so both are VIPs.
    assert.deepEqual(svc.addresses, ['1.2.3.4', '001:db8::']);
    assert.deepEqual(svc.exportTo, ['default', 'foo']);
    assert.deepEqual(svc.ports, [{ name: 'foo', port: 1234, protocol: 'HTTP', targetPort: 2345 }]);
    assert.equal(svc.resolution, 'DNS');
    assert.deepEqual(svc.selector, { foo: 'bar' });
    assert.equal(reg.endpoints('example.com', 1234).length, 0); // nothing carries foo=bar
    const workloads = new Map(reg.workloads.map((w) => [w.name, w]));
    assert.equal(workloads.has('missing-address-network-set'), false);
    const w = workloads.get('full')!;
    assert.deepEqual([w.address, w.serviceAccount, w.network, w.weight, w.tlsMode], ['1.2.3.4', 'sa', 'net', 2, 'istio']);
    assert.deepEqual(w.locality, { region: 'foo', zone: 'bar', subzone: 'baz' });
    assert.deepEqual(w.ports, { http: 1 });
    assert.equal(workloads.get('uds-path')?.address, 'unix:///foo/bar');
  });
});
