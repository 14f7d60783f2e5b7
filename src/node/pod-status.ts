type Obj = Record<string, any>;

/** What a pod's status is computed from (one snapshot of the node's view of it). */
export interface PodStatusInput {
  /** The status the API server holds now (conditions of others, transition times, startTime). */
  previous: Obj | undefined;
  sandboxReady: boolean;
  initContainers: Obj[];
  containers: Obj[];
  /** Every init container finished (or started, for native sidecars). */
  initialized: boolean;
  /** An init container failed for good (restartPolicy Never). */
  initFailed: boolean;
  restartPolicy: string;
  /** Being deleted: containers are stopped, not restarted. */
  terminating: boolean;
  podIp: string;
  hostIp: string;
  startTime: string;
  /** Names of init containers that are native sidecars (restartPolicy Always). */
  nativeSidecars: ReadonlySet<string>;
  now: string;
}

const KUBELET_CONDITIONS = new Set(['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready']);

/** The kubelet's pod phase (pkg/kubelet getPhase), from the container statuses. */
export function podPhase(i: Pick<PodStatusInput, 'initialized' | 'initFailed' | 'containers' | 'restartPolicy' | 'terminating'>): string {
  if (i.initFailed) return 'Failed';
  if (!i.initialized) return 'Pending';
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of i.containers) {
    const s = c.state ?? {};
    if (s.running) running++;
    else if (s.terminated) {
      stopped++;
      if (s.terminated.exitCode === 0) succeeded++;
    } else if (s.waiting) {
      if (c.lastState?.terminated) {
        stopped++;
        if (c.lastState.terminated.exitCode === 0) succeeded++;
      } else waiting++;
    }
  }
  if (waiting > 0 && !i.terminating) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    const policy = i.terminating ? 'Never' : i.restartPolicy;
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    return policy === 'OnFailure' ? 'Running' : 'Failed';
  }
  return i.terminating ? 'Failed' : 'Pending';
}

function condition(type: string, ok: boolean, previous: Obj[], now: string, reason?: string, message?: string): Obj {
  const status = ok ? 'True' : 'False';
  const prev = previous.find((c) => c.type === type);
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
    ...(!ok && reason ? { reason } : {}),
    ...(!ok && message ? { message } : {}),
  };
}

/** core/v1 PodStatus as the kubelet reports it through the status subresource. */
export function buildPodStatus(i: PodStatusInput): Obj {
  const prevConditions = (i.previous?.conditions ?? []) as Obj[];
  const phase = podPhase(i);
  const unready = [...i.initContainers.filter((c) => i.nativeSidecars.has(c.name)), ...i.containers].filter((c) => !c.ready).map((c) => c.name);
  const incomplete = i.initContainers.filter((c) => (i.nativeSidecars.has(c.name) ? !c.started : !c.state?.terminated || c.state.terminated.exitCode !== 0)).map((c) => c.name);
  const done = phase === 'Succeeded' || phase === 'Failed';
  const conditions = [
    ...prevConditions.filter((c) => !KUBELET_CONDITIONS.has(c.type)),
    condition('PodReadyToStartContainers', i.sandboxReady, prevConditions, i.now),
    condition('Initialized', i.initialized, prevConditions, i.now, 'ContainersNotInitialized', `containers with incomplete status: [${incomplete.join(' ')}]`),
    condition('ContainersReady', unready.length === 0 && !done, prevConditions, i.now, done ? 'PodCompleted' : 'ContainersNotReady', done ? undefined : `containers with unready status: [${unready.join(' ')}]`),
    condition('Ready', unready.length === 0 && !done && !i.terminating, prevConditions, i.now, done ? 'PodCompleted' : 'ContainersNotReady', done ? undefined : `containers with unready status: [${unready.join(' ')}]`),
  ];
  return {
    phase,
    conditions,
    hostIP: i.hostIp,
    hostIPs: [{ ip: i.hostIp }],
    ...(i.sandboxReady ? { podIP: i.podIp, podIPs: [{ ip: i.podIp }] } : {}),
    startTime: i.startTime,
    ...(i.initContainers.length > 0 ? { initContainerStatuses: i.initContainers } : {}),
    containerStatuses: i.containers,
  };
}
