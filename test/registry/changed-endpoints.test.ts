import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostsWithChangedEndpoints } from '../../src/control/registry/changed-endpoints.ts';
import { RegistryBuilder } from '../../src/control/registry/registry-builder.ts';
import { servicesWithChangedIdentities } from '../../src/control/registry/service-identities.ts';
import { pod, resources, storeOf } from './registry-helpers.ts';

const MESH = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec:
  clusterIP: 10.96.0.9
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: fixed, namespace: ns}
spec:
  hosts: [fixed.mesh]
  ports: [{name: http, number: 80, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.1.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: ns}
spec:
  hosts: [vm.mesh]
  ports: [{name: http, number: 80, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: ns}
spec:
  hosts: [db.mesh]
  ports: [{name: tcp, number: 5432, protocol: TCP}]
  resolution: STATIC
  workloadSelector: {labels: {app: db}}
`;
const entry = (name: string, app: string, address: string, extra = ''): string =>
  `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${name}, namespace: ns${extra}}\nspec: {address: ${address}, labels: {app: ${app}}}\n`;

describe('hostsWithChangedEndpoints (real RegistryBuilder snapshots)', () => {
  const setup = () => {
    const store = storeOf(MESH, entry('vm-1', 'vm', '10.0.0.1'), entry('db-1', 'db', '10.0.1.1'), pod('web-1', '10.244.0.1', { app: 'web' }, { ns: 'ns' }));
    const builder = new RegistryBuilder();
    return { store, builder, first: builder.build(store) };
  };

  it('names the service whose WorkloadEntry moved, and only it', () => {
    const { store, builder, first } = setup();
    store.apply('test', resources(entry('vm-1', 'vm', '10.0.0.2')));
    assert.deepEqual([...hostsWithChangedEndpoints(first, builder.build(store))!], ['vm.mesh']);
  });

  it('a WorkloadEntry relabelled from one service to another changes both', () => {
    const { store, builder, first } = setup();
    store.apply('test', resources(entry('vm-1', 'db', '10.0.0.1')));
    assert.deepEqual([...hostsWithChangedEndpoints(first, builder.build(store))!].sort(), ['db.mesh', 'vm.mesh']);
  });

  it('a WorkloadEntry change that moves no endpoint changes nothing', () => {
    const { store, builder, first } = setup();
    store.apply('test', resources(entry('vm-1', 'vm', '10.0.0.1', ', annotations: {note: x}')));
    const next = builder.build(store);
    assert.notEqual(next, first, 'a new snapshot');
    assert.deepEqual([...hostsWithChangedEndpoints(first, next)!], []);
  });

  it('is undefined when the services themselves changed', () => {
    const { store, builder, first } = setup();
    store.apply('test', resources('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: more, namespace: ns}\nspec: {hosts: [more.mesh], ports: [{name: http, number: 80, protocol: HTTP}], resolution: STATIC, endpoints: [{address: 10.2.0.1}]}\n'));
    assert.equal(hostsWithChangedEndpoints(first, builder.build(store)), undefined);
  });

  it('finds a new service account among the moved services alone (no index of every service)', () => {
    const { store, builder, first } = setup();
    store.apply('test', resources(entry('vm-1', 'vm', '10.0.0.1').replace('labels: {app: vm}', 'labels: {app: vm}, serviceAccount: vm-sa')));
    const next = builder.build(store);
    const moved = hostsWithChangedEndpoints(first, next)!;
    assert.deepEqual([...moved], ['vm.mesh']);
    assert.deepEqual(servicesWithChangedIdentities(first, next, moved).map((s) => s.hostname), ['vm.mesh']);
    assert.deepEqual(servicesWithChangedIdentities(first, next).map((s) => s.hostname), ['vm.mesh'], 'the same answer as comparing every service');
    store.apply('test', resources(entry('vm-1', 'vm', '10.0.0.9').replace('labels: {app: vm}', 'labels: {app: vm}, serviceAccount: vm-sa')));
    const third = builder.build(store);
    assert.deepEqual(servicesWithChangedIdentities(next, third, hostsWithChangedEndpoints(next, third)), [], 'an address change keeps the identities');
  });
});
