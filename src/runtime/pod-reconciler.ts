import type { DeploymentSpec } from '../api/kube/deployment.ts';
import type { AmbientPods } from './ambient-pods.ts';
import { barePodHash, barePodKey, isBarePod } from './bare-pods.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import { deploymentReplicas, podTemplateHash } from './deployment-pods.ts';
import { rolloutStep } from './deployment-rollout.ts';
import type { PodInstance } from './pod-instance.ts';
import type { PodLauncher } from './pod-launcher.ts';
import { barePodPlan, deploymentPodPlan } from './pod-plan.ts';
import type { PodStatePublisher } from './pod-state-publisher.ts';

export interface PodReconcilerOptions {
  objects: ClusterObjects;
  /** The running pods, by `namespace/name`. */
  pods: ReadonlyMap<string, PodInstance>;
  launcher: PodLauncher;
  podState: PodStatePublisher;
  ambient: AmbientPods;
  isClosed: () => boolean;
  scheduleRefresh: (ms: number) => void;
}

/**
 * The Deployment and ReplicaSet controllers of the local mesh: the running pods made to match
 * the stored Deployments and bare Pods. Runs inside the runtime's change queue.
 */
export class PodReconciler {
  private readonly o: PodReconcilerOptions;
  /** Deployments whose new pods failed to start: no further automatic steps until the next change. */
  private readonly stalledRollouts = new Set<string>();

  constructor(options: PodReconcilerOptions) {
    this.o = options;
  }

  /**
   * Make the running pods match the Deployments and bare Pods: create, scale, roll out a changed
   * template (RollingUpdate: surge, then drain), remove pods whose owner is gone. Returns the
   * terminations it started (they finish outside the change queue).
   */
  async reconcile(options: { rolloutsOnly?: boolean } = {}): Promise<Promise<void>[]> {
    const o = this.o;
    if (o.isClosed()) return [];
    if (!options.rolloutsOnly) this.stalledRollouts.clear();
    const deployments = o.objects.list('Deployment').filter((d) => d.group === 'apps');
    const owners = new Map(deployments.map((d) => [`${d.metadata.namespace}/${d.metadata.name}`, d]));
    const terminations: Promise<void>[] = [];
    const creations: Promise<void>[] = [];
    const barePods = new Map(o.objects.list('Pod').filter(isBarePod).map((p) => [barePodKey(p), p]));
    // A bare pod is recreated under the same name: its old instance must be gone first.
    const bareStops: Promise<void>[] = [];
    for (const pod of options.rolloutsOnly ? [] : [...o.pods.values()]) {
      const owner = pod.options.owner;
      if (!owner) {
        const b = barePods.get(pod.key);
        if (!b || barePodHash(b) !== pod.options.templateHash) bareStops.push(o.launcher.remove(pod));
        // only its labels changed (apply): updated in place, as Kubernetes does
        else pod.setLabels((b.metadata.labels as Record<string, string> | undefined) ?? {});
      } else if (!owners.has(owner)) terminations.push(o.launcher.terminate(pod));
    }
    for (const [owner, d] of owners) {
      const hash = podTemplateHash(d.spec as DeploymentSpec);
      const mine = [...o.pods.values()].filter((p) => p.options.owner === owner && !p.isTerminating);
      // Between changes, only rollouts in progress move on (a stalled one waits for the next change).
      if (options.rolloutsOnly && (this.stalledRollouts.has(owner) || mine.every((p) => p.options.templateHash === hash))) continue;
      const step = rolloutStep(deploymentReplicas(d), hash, mine.map((p) => ({ key: p.key, templateHash: p.options.templateHash, ready: p.isReady() && o.podState.publishedReady(p.key) })));
      for (const key of step.terminate) terminations.push(o.launcher.terminate(o.pods.get(key)!));
      for (let i = 0; i < step.create; i++) {
        creations.push(o.launcher.create(deploymentPodPlan(d, hash)).catch((err: unknown) => {
          this.stalledRollouts.add(owner);
          throw err;
        }));
      }
    }
    await Promise.allSettled(bareStops);
    for (const [key, b] of options.rolloutsOnly ? [] : barePods) {
      if (o.pods.has(key)) continue;
      creations.push(o.launcher.create(barePodPlan(b)));
    }
    // Pods start in parallel (their namespaces and processes are independent).
    const results = await Promise.allSettled(creations);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    o.ambient.reconcile(o.pods.values());
    if (!options.rolloutsOnly || creations.length > 0 || terminations.length > 0) o.scheduleRefresh(0);
    if (failed) throw failed.reason;
    return terminations;
  }
}
