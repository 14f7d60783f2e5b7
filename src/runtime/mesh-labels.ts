import { resourceKey, type ConfigResource } from '../api/config-resource.ts';
import type { DeploymentSpec } from '../api/kube/deployment.ts';
import type { AmbientPods } from './ambient-pods.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import type { ConfigDirWriter } from './config-dir-writer.ts';
import type { GatewayDeploymentController } from './gateway-deployment-controller.ts';
import type { ChangeResult } from './mesh-runtime-options.ts';
import { NETWORK_LABEL, type MeshNetworks } from './mesh-networks.ts';
import { kindLabel, plural, relabel, type ObjectRef } from './object-edits.ts';
import type { PodInstance } from './pod-instance.ts';

export interface MeshLabelsOptions {
  objects: ClusterObjects;
  config: ConfigDirWriter;
  pods: ReadonlyMap<string, PodInstance>;
  gatewayController: GatewayDeploymentController;
  ambient: AmbientPods;
  networks: MeshNetworks;
  scheduleRefresh: (ms: number) => void;
}

/**
 * `kubectl label` on the local mesh: stored objects change as an apply would change them (a
 * Gateway's objects follow, pods follow their namespace's ambient mode, istio-system's network
 * label names the default network); running pods are relabelled in place. Runs inside the
 * runtime's change queue.
 */
export class MeshLabels {
  private readonly o: MeshLabelsOptions;

  constructor(options: MeshLabelsOptions) {
    this.o = options;
  }

  /** `kubectl label`: set (value) or remove (null) labels of a stored object, or of a running pod. */
  label(ref: ObjectRef, labels: Readonly<Record<string, string | null>>, overwrite: boolean): ChangeResult {
    if (ref.kind === 'Pod' && ref.group === '') return this.labelPod(ref, labels, overwrite);
    const o = this.o;
    const r = o.objects.get(resourceKey(o.objects.normalize(ref as ConfigResource)));
    if (!r) return { ok: false, errors: [`${plural(ref)} "${ref.metadata.name}" not found`], changes: [] };
    const edited = relabel(r, labels, overwrite);
    if ('error' in edited) return { ok: false, errors: [edited.error], changes: [] };
    const { stored, changed } = o.objects.put(edited.resource);
    // `kubectl label namespace istio-system topology.istio.io/network=...` names the default network (Istio's install pages)
    if (stored.kind === 'Namespace') o.networks.setDefaultName(o.objects.namespaceLabels('istio-system')[NETWORK_LABEL]);
    if (changed) {
      o.config.write(stored);
      // as an apply: a Gateway's objects follow its labels, running pods enter or leave ambient mode with their namespace's
      o.gatewayController.sync();
      o.ambient.reconcile(o.pods.values());
    }
    const removed = Object.values(labels).every((v) => v === null);
    return { ok: true, errors: [], changes: [`${kindLabel(r)} ${changed ? (removed ? 'unlabeled' : 'labeled') : 'not labeled'}`] };
  }

  /**
   * `kubectl label pod`: the running pod's labels change in place, without a restart, as on
   * Kubernetes. Services select it or not by its new labels, and ambient mode follows at once
   * (`istio.io/dataplane-mode=ambient|none`, or the label removed to fall back on the namespace's):
   * the pod is enrolled or released as istio-cni's informer does. A Deployment pod's selector
   * labels are refused (Kubernetes would orphan the pod and start a replacement; not modelled).
   */
  private labelPod(ref: ObjectRef, labels: Readonly<Record<string, string | null>>, overwrite: boolean): ChangeResult {
    const o = this.o;
    const key = `${ref.metadata.namespace ?? 'default'}/${ref.metadata.name}`;
    const pod = o.pods.get(key);
    const bare = o.objects.get(resourceKey(o.objects.normalize(ref as ConfigResource)));
    if ((!pod || pod.isTerminating) && !bare) return { ok: false, errors: [`pods "${ref.metadata.name}" not found`], changes: [] };
    const current = pod ? pod.options.labels : ((bare!.metadata.labels as Record<string, string> | undefined) ?? {});
    const edited = relabel({ apiVersion: 'v1', kind: 'Pod', group: '', version: 'v1', metadata: { name: ref.metadata.name, namespace: ref.metadata.namespace, labels: current }, spec: {}, raw: {} }, labels, overwrite);
    if ('error' in edited) return { ok: false, errors: [edited.error], changes: [] };
    const next = (edited.resource.metadata.labels as Record<string, string>) ?? {};
    const owner = pod?.options.owner ? o.objects.get(`apps/Deployment/${pod.options.owner}`) : undefined;
    const selector = { ...(((owner?.spec as DeploymentSpec | undefined)?.selector?.matchLabels as Record<string, string> | undefined) ?? {}), ...(pod?.options.owner ? { 'pod-template-hash': '' } : {}) };
    const orphaning = Object.keys(labels).find((k) => k in selector && next[k] !== current[k]);
    if (orphaning) return { ok: false, errors: [`pods "${ref.metadata.name}": label ${orphaning} is in the selector of deployment.apps/${pod!.options.owner!.split('/')[1]}: changing it would orphan the pod from its ReplicaSet, which mizzen up does not model (change the Deployment's template instead)`], changes: [] };
    const changed = JSON.stringify(Object.entries(next).sort()) !== JSON.stringify(Object.entries(current).sort());
    if (changed) {
      if (bare) {
        const stored = relabel(bare, labels, true);
        if ('resource' in stored) o.objects.put(stored.resource);
      }
      pod?.setLabels(next);
      o.ambient.reconcile(o.pods.values());
      o.scheduleRefresh(0);
    }
    const removed = Object.values(labels).every((v) => v === null);
    return { ok: true, errors: [], changes: [`pod/${ref.metadata.name} ${changed ? (removed ? 'unlabeled' : 'labeled') : 'not labeled'}`] };
  }
}
