/** What a rollout step needs to know of one pod of a Deployment. */
export interface RolloutPod {
  key: string;
  templateHash: string;
  ready: boolean;
}

/** What to do now: create this many pods of the current template, terminate these pods. */
export interface RolloutStep {
  create: number;
  terminate: string[];
}

/**
 * One step of a Deployment's RollingUpdate with Kubernetes' defaults (maxSurge 25 % rounded up,
 * maxUnavailable 25 % rounded down): new pods are created first (surge), an old pod is
 * terminated only while enough pods stay ready (so a Deployment of 1-3 replicas never drops a
 * ready pod before its replacement is ready), and old pods that are not ready go first. With
 * no old pods it is plain scaling (surplus pods that are not ready go first). Called again
 * whenever a pod's readiness changes, until no old pod is left.
 */
export function rolloutStep(replicas: number, templateHash: string, pods: readonly RolloutPod[]): RolloutStep {
  const current = pods.filter((p) => p.templateHash === templateHash);
  const old = pods.filter((p) => p.templateHash !== templateHash);
  const notReadyFirst = (a: RolloutPod, b: RolloutPod): number => Number(a.ready) - Number(b.ready);
  if (old.length === 0 || replicas === 0) {
    const surplus = [...current].sort(notReadyFirst).slice(0, Math.max(0, current.length - replicas));
    return { create: Math.max(0, replicas - current.length), terminate: [...(replicas === 0 ? old : []), ...surplus].map((p) => p.key) };
  }
  const maxSurge = Math.max(1, Math.ceil(replicas * 0.25));
  const maxUnavailable = Math.floor(replicas * 0.25);
  const create = Math.max(0, Math.min(replicas - current.length, replicas + maxSurge - pods.length));
  const terminate: RolloutPod[] = old.filter((p) => !p.ready);
  const oldReady = old.filter((p) => p.ready);
  const available = current.filter((p) => p.ready).length + oldReady.length;
  const removable = Math.max(0, available - (replicas - maxUnavailable));
  terminate.push(...oldReady.slice(0, removable));
  // Surplus pods of the current template (scaled down during a rollout) go too.
  const extraCurrent = [...current].sort(notReadyFirst).slice(0, Math.max(0, current.length - replicas));
  return { create, terminate: [...terminate, ...extraCurrent].map((p) => p.key) };
}
