import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryBuilder } from '../../src/control/registry/registry-builder.ts';
import { pod, resources, storeOf } from './registry-helpers.ts';

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec:
  clusterIP: 10.96.0.9
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;

const GROUPED = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: ns}
spec:
  hosts: [vm.mesh]
  ports: [{name: http, number: 80, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: ns, annotations: {istio.io/autoRegistrationGroup: g}}
spec: {address: 10.0.0.1}
`;

const group = (port: number) => `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: g, namespace: ns}
spec:
  metadata: {labels: {app: vm}}
  template: {ports: {http: ${port}}}
`;

describe('RegistryBuilder', () => {
  it('returns the same snapshot when nothing the registry reads changed', () => {
    const store = storeOf(SERVICE, pod('web-1', '10.244.0.1', { app: 'web' }, { ns: 'ns' }));
    const builder = new RegistryBuilder();
    const first = builder.build(store);
    store.apply('test', resources('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: ns}\nspec: {hosts: [web]}\n'));
    assert.equal(builder.build(store), first);
    assert.notEqual(builder.build(store, { domainSuffix: 'other.local' }), first);
  });

  it('follows pod changes: new, moved, not ready, deleted', () => {
    const store = storeOf(SERVICE, pod('web-1', '10.244.0.1', { app: 'web' }, { ns: 'ns' }));
    const builder = new RegistryBuilder();
    const host = 'web.ns.svc.cluster.local';
    const view = () => builder.build(store).endpoints(host, 80).map((e) => `${e.address}:${e.healthy}`);
    assert.deepEqual(view(), ['10.244.0.1:true']);
    store.apply('test', resources(pod('web-2', '10.244.0.2', { app: 'web' }, { ns: 'ns' })));
    assert.deepEqual(view(), ['10.244.0.1:true', '10.244.0.2:true']);
    store.apply('test', resources(pod('web-1', '10.244.0.3', { app: 'web' }, { ns: 'ns', ready: false })));
    assert.deepEqual(view(), ['10.244.0.2:true', '10.244.0.3:false']);
    store.apply('test', resources(pod('web-2', '10.244.0.2', { app: 'other' }, { ns: 'ns' })));
    assert.deepEqual(view(), ['10.244.0.3:false']);
    store.delete('test', resources(pod('web-1', '', {}, { ns: 'ns' })));
    assert.deepEqual(view(), []);
  });

  it('recomputes auto-registered WorkloadEntries when their group changes', () => {
    const store = storeOf(GROUPED, group(8080));
    const builder = new RegistryBuilder();
    assert.deepEqual(builder.build(store).endpoints('vm.mesh', 80).map((e) => e.port), [8080]);
    store.apply('test', resources(group(9090)));
    assert.deepEqual(builder.build(store).endpoints('vm.mesh', 80).map((e) => e.port), [9090]);
  });

  it('gives the same result as a fresh build after a series of changes', () => {
    const store = storeOf(SERVICE, GROUPED, group(8080), pod('web-1', '10.244.0.1', { app: 'web' }, { ns: 'ns' }));
    const builder = new RegistryBuilder();
    builder.build(store);
    store.apply('test', resources(pod('web-9', '10.244.0.9', { app: 'web' }, { ns: 'ns' }) + '---\n' + pod('vm-pod', '10.244.0.10', { app: 'vm' }, { ns: 'ns' })));
    const incremental = builder.build(store);
    const fresh = new RegistryBuilder().build(store);
    for (const s of fresh.services) {
      for (const p of s.ports) assert.deepEqual(incremental.endpoints(s.hostname, p.port), fresh.endpoints(s.hostname, p.port));
    }
    assert.deepEqual(incremental.services, fresh.services);
  });

  it('matches a fresh build after in-place pod updates (labels moved between services)', () => {
    const second = SERVICE.replace('name: web,', 'name: api,').replace('app: web', 'app: api').replace('10.96.0.9', '10.96.0.10');
    const store = storeOf(SERVICE, second, ...[1, 2, 3, 4].map((i) => pod(`p-${i}`, `10.244.0.${i}`, { app: i % 2 ? 'web' : 'api' }, { ns: 'ns' })));
    const builder = new RegistryBuilder();
    const check = (): void => {
      const incremental = builder.build(store);
      const fresh = new RegistryBuilder().build(store);
      for (const host of ['web.ns.svc.cluster.local', 'api.ns.svc.cluster.local']) {
        assert.deepEqual(incremental.endpoints(host, 80), fresh.endpoints(host, 80), host);
      }
    };
    check();
    store.apply('test', resources(pod('p-1', '10.244.0.1', { app: 'api' }, { ns: 'ns' })));
    check();
    assert.deepEqual(builder.build(store).endpoints('api.ns.svc.cluster.local', 80).map((e) => e.address), ['10.244.0.1', '10.244.0.2', '10.244.0.4']);
    store.apply('test', resources(pod('p-2', '10.244.0.3', { app: 'web' }, { ns: 'ns' }) + '---\n' + pod('p-3', '10.244.0.9', { app: 'web' }, { ns: 'ns', ready: false })));
    check();
    assert.deepEqual(builder.build(store).endpoints('web.ns.svc.cluster.local', 80).map((e) => `${e.address}:${e.healthy}`), ['10.244.0.3:true', '10.244.0.9:false']);
  });
});
