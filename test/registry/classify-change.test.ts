import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigChange } from '../../src/control/config/config-store-reader.ts';
import { classifyChange } from '../../src/control/registry/classify-change.ts';
import { resources } from './registry-helpers.ts';

function changeOf(oldText: string | undefined, newText: string | undefined): ConfigChange {
  const old = oldText ? resources(oldText)[0] : undefined;
  const next = newText ? resources(newText)[0] : undefined;
  const r = (next ?? old)!;
  return { kind: r.kind, group: r.group, namespace: r.metadata.namespace, name: r.metadata.name, old, new: next };
}

const podText = (ip: string, ready = 'True') => `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns, labels: {app: a}}
spec: {containers: [{name: c}]}
status: {podIP: ${ip}, conditions: [{type: Ready, status: "${ready}"}]}
`;

describe('classifyChange', () => {
  it('treats pods, WorkloadEntries, Endpoints and EndpointSlices as endpoint-only', () => {
    assert.equal(classifyChange(changeOf(undefined, podText('10.0.0.1'))), 'endpoints');
    assert.equal(classifyChange(changeOf(podText('10.0.0.1'), podText('10.0.0.1', 'False'))), 'endpoints');
    assert.equal(classifyChange(changeOf('apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec: {address: 1.1.1.1}\n', undefined)), 'endpoints');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: []\n')), 'endpoints');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\nendpoints: []\n')), 'endpoints');
  });

  it('treats routing, services and mesh config as config, and inert kinds as none', () => {
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec: {hosts: [a]}\n')), 'config');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {}\n')), 'config');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec: {hosts: [a]}\n')), 'config');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata: {mesh: ""}\n')), 'config');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-settings}\ndata: {}\n')), 'none');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n')), 'none');
    assert.equal(classifyChange(changeOf(undefined, 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n')), 'none');
  });

  it('ignores a rewrite with identical content', () => {
    const vs = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec: {hosts: [a]}\n';
    assert.equal(classifyChange(changeOf(vs, vs)), 'none');
  });
});
