import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterObjects } from '../../src/runtime/cluster-objects.ts';
import { rolloutStep, type RolloutPod } from '../../src/runtime/deployment-rollout.ts';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';

const pod = (key: string, templateHash: string, ready: boolean): RolloutPod => ({ key, templateHash, ready });

describe('rolloutStep (RollingUpdate, maxSurge 25 %, maxUnavailable 25 %)', () => {
  it('surges a new pod first and drains the old one only once the new one is ready (1 replica)', () => {
    assert.deepEqual(rolloutStep(1, 'new', [pod('old-1', 'old', true)]), { create: 1, terminate: [] });
    assert.deepEqual(rolloutStep(1, 'new', [pod('old-1', 'old', true), pod('new-1', 'new', false)]), { create: 0, terminate: [] });
    assert.deepEqual(rolloutStep(1, 'new', [pod('old-1', 'old', true), pod('new-1', 'new', true)]), { create: 0, terminate: ['old-1'] });
  });

  it('moves 4 replicas one surge pod and one unavailable pod at a time', () => {
    const old = [1, 2, 3, 4].map((i) => pod(`old-${i}`, 'old', true));
    assert.deepEqual(rolloutStep(4, 'new', old), { create: 1, terminate: ['old-1'] });
    assert.deepEqual(rolloutStep(4, 'new', [...old.slice(1), pod('new-1', 'new', false)]), { create: 1, terminate: [] });
  });

  it('takes old pods that are not ready first, and scales plainly without a rollout', () => {
    assert.deepEqual(rolloutStep(2, 'new', [pod('old-1', 'old', false), pod('old-2', 'old', true)]).terminate, ['old-1']);
    assert.deepEqual(rolloutStep(3, 'h', [pod('a', 'h', true)]), { create: 2, terminate: [] });
    assert.deepEqual(rolloutStep(1, 'h', [pod('a', 'h', true), pod('b', 'h', false)]), { create: 0, terminate: ['b'] });
    assert.deepEqual(rolloutStep(0, 'h', [pod('a', 'old', true), pod('b', 'h', true)]), { create: 0, terminate: ['a', 'b'] });
  });
});

describe('ClusterObjects', () => {
  it("sets the API server's metadata, keeps it across updates, and reports unchanged content", () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const objects = new ClusterObjects('10.96.0.0/16', () => now);
    const doc = (host: string): ReturnType<typeof parseDocuments>['resources'][number] =>
      parseDocuments(`apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: apps}\nspec: {hosts: [${host}]}\n`, 'f.yaml').resources[0];
    const first = objects.put(doc('a'));
    assert.equal(first.changed, true);
    assert.equal(first.stored.metadata.creationTimestamp, '2026-01-01T00:00:00Z');
    assert.equal(first.stored.metadata.generation, 1);
    now += 60_000;
    const same = objects.put(doc('a'));
    assert.equal(same.changed, false);
    const next = objects.put(doc('b'));
    assert.equal(next.changed, true);
    assert.equal(next.stored.metadata.creationTimestamp, '2026-01-01T00:00:00Z');
    assert.equal(next.stored.metadata.uid, first.stored.metadata.uid);
    assert.equal(next.stored.metadata.generation, 2);
    assert.notEqual(next.stored.metadata.resourceVersion, first.stored.metadata.resourceVersion);
    // The namespace of an object exists, as do the system namespaces.
    assert.deepEqual(objects.list('Namespace').map((n) => n.metadata.name), ['apps', 'default', 'istio-system', 'kube-node-lease', 'kube-public', 'kube-system']);
  });

  it('keeps status apart from writes of the object (status subresource), as the Gateway controller writes it', () => {
    const objects = new ClusterObjects('10.96.0.0/16', () => 0);
    const gw = (withStatus: boolean): ReturnType<typeof parseDocuments>['resources'][number] =>
      parseDocuments(`apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: default}\nspec: {gatewayClassName: istio-waypoint}\n${withStatus ? 'status: {addresses: [{value: forged}]}\n' : ''}`, 'f.yaml').resources[0];
    const { stored } = objects.put(gw(true));
    assert.equal(stored.raw.status, undefined, 'a status in a manifest is not stored');
    const status = { addresses: [{ type: 'Hostname', value: 'waypoint.default.svc.cluster.local' }], conditions: [{ type: 'Programmed', status: 'True' }] };
    const written = objects.putStatus('gateway.networking.k8s.io/Gateway/default/waypoint', status);
    assert.deepEqual(written?.raw.status, status);
    assert.equal(written?.metadata.generation, 1);
    assert.notEqual(written?.metadata.resourceVersion, stored.metadata.resourceVersion);
    // re-applying the manifest (with or without a status) keeps the written status
    assert.equal(objects.put(gw(false)).changed, false);
    assert.equal(objects.put(gw(true)).changed, false);
    assert.deepEqual(objects.get('gateway.networking.k8s.io/Gateway/default/waypoint')?.raw.status, status);
    assert.equal(objects.putStatus('gateway.networking.k8s.io/Gateway/default/gone', status), undefined);
  });
});
