import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { silentLogger } from '../../src/lib/log.ts';
import type { AmbientPods } from '../../src/runtime/ambient-pods.ts';
import type { ClusterObjects } from '../../src/runtime/cluster-objects.ts';
import type { ConfigDirWriter } from '../../src/runtime/config-dir-writer.ts';
import type { MeshStatusViews } from '../../src/runtime/mesh-status-views.ts';
import type { PodInstance } from '../../src/runtime/pod-instance.ts';
import { PodStatePublisher } from '../../src/runtime/pod-state-publisher.ts';

/**
 * What a rollout may count on: a pod's readiness as last written to the control plane, not its
 * live probe, and a replacement's readiness written before the removal of the pod it replaces
 * (otherwise a push in between has no healthy endpoint). Stand-ins for the pods, the object store
 * and the config directory: no namespaces or processes are needed to see the order of writes.
 */
describe('PodStatePublisher', () => {
  it('counts a pod as ready once published, and writes pods gaining readiness before pods losing it', async () => {
    const pod = (name: string, ip: string, ready: boolean) => ({
      key: `default/${name}`, name, namespace: 'default', ip, ready,
      isReady() { return this.ready; },
      async applyServiceRules() {},
      async updateEtc() {},
    });
    const old = pod('reviews-v1-old', '10.244.0.5', true);
    const next = pod('reviews-v1-new', '10.244.0.9', false);
    // the old pod came first (Map order), as in a rollout
    const pods = new Map<string, unknown>([[old.key, old], [next.key, next]]);
    const written: string[] = [];
    const publisher = new PodStatePublisher({
      pods: pods as unknown as ReadonlyMap<string, PodInstance>,
      objects: { serviceViews: () => [], list: () => [], vips: { cidrText: '10.96.0.0/16' } } as unknown as ClusterObjects,
      views: { endpointPods: () => [] } as unknown as MeshStatusViews,
      config: { write: (r: ConfigResource) => void written.push(`${r.metadata.name}:${String((r.raw as { ready?: boolean }).ready)}`) } as unknown as ConfigDirWriter,
      ambient: {
        podObject: (p: typeof old): ConfigResource => ({ kind: 'Pod', group: '', metadata: { name: p.name, namespace: p.namespace }, raw: { ready: p.isReady() } }) as unknown as ConfigResource,
        nodePods: () => [],
      } as unknown as AmbientPods,
      log: silentLogger(),
    });
    await publisher.publish();
    assert.equal(publisher.publishedReady(old.key), true);
    assert.equal(publisher.publishedReady(next.key), false);

    next.ready = true; // the new pod's probe passes: not yet what discovery knows
    assert.equal(publisher.publishedReady(next.key), false, 'a live probe is not a published readiness');
    old.ready = false; // and the old pod is terminated in the same refresh
    written.length = 0;
    await publisher.publish();
    assert.deepEqual(written, ['reviews-v1-new:true', 'reviews-v1-old:false'], 'the replacement first');
    assert.equal(publisher.publishedReady(next.key), true);
    publisher.forget(next.key);
    assert.equal(publisher.publishedReady(next.key), false);
  });
});
