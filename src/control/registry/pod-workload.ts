import { resourceKey, type ConfigResource } from '../../api/config-resource.ts';
import type { PodSpec, PodStatus } from '../../api/kube/pod.ts';
import type { Locality, Workload } from './service.ts';
import { localityFromLabels, NETWORK_LABEL, tlsModeFromLabels } from './workload-labels.ts';

/** Annotation Istio's injector writes on pods it gave a sidecar. */
export const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';

interface PodCondition {
  type?: string;
  status?: string;
}

/** The pod's IP as reported in its status (`podIP`, else the first of `podIPs`). */
export function podIP(r: ConfigResource): string | undefined {
  const status = (r.raw.status ?? {}) as PodStatus;
  if (typeof status.podIP === 'string' && status.podIP !== '') return status.podIP;
  const first = status.podIPs?.[0]?.ip;
  return typeof first === 'string' && first !== '' ? first : undefined;
}

/**
 * Is the pod ready to serve? The Ready condition when the status has one; otherwise a pod is
 * ready unless its phase says otherwise (hand-written manifests often carry only an IP).
 */
export function podReady(r: ConfigResource): boolean {
  const status = (r.raw.status ?? {}) as PodStatus & { conditions?: PodCondition[] };
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  if (ready) return ready.status === 'True';
  return status.phase === undefined || status.phase === 'Running';
}

/** Terminated or being deleted: never an endpoint. */
function podGone(r: ConfigResource): boolean {
  const phase = ((r.raw.status ?? {}) as PodStatus).phase;
  return phase === 'Succeeded' || phase === 'Failed' || r.metadata.deletionTimestamp !== undefined;
}

/**
 * A Pod as a workload: IP, labels, service account (`default` when unset, as Kubernetes does),
 * named container ports, locality from its labels or else its Node's, network from its labels, and tlsMode `istio` when it
 * carries Istio's label (or the injector's status annotation of a sidecar; its gateway template,
 * `initContainers: null`, gives no tlsMode). Pods without an IP, or that
 * have terminated, are not workloads.
 */
export function workloadFromPod(r: ConfigResource, nodeLocality: ReadonlyMap<string, Locality> = new Map()): Workload | undefined {
  const address = podIP(r);
  if (!address || podGone(r)) return undefined;
  const spec = r.spec as PodSpec;
  const labels = { ...(r.metadata.labels ?? {}) };
  const ports: Record<string, number> = {};
  for (const c of spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name && Number.isInteger(p.containerPort)) ports[p.name] = p.containerPort;
  }
  const injected = hasSidecar(r.metadata.annotations?.[SIDECAR_STATUS_ANNOTATION]);
  const w: Workload = {
    kind: 'Pod',
    name: r.metadata.name,
    namespace: r.metadata.namespace ?? 'default',
    address,
    labels,
    serviceAccount: spec.serviceAccountName ?? spec.serviceAccount ?? 'default',
    ports,
    tlsMode: injected ? 'istio' : tlsModeFromLabels(labels),
    healthy: podReady(r),
    source: resourceKey(r),
  };
  // The pod's own labels win (Istio's istio-locality label); else the locality of its Node.
  const locality = localityFromLabels(labels) ?? (spec.nodeName ? nodeLocality.get(spec.nodeName) : undefined);
  if (locality) w.locality = locality;
  if (labels[NETWORK_LABEL]) w.network = labels[NETWORK_LABEL];
  return w;
}

/** The injector's status annotation says a sidecar was injected (not Istio's gateway template, whose initContainers are null). */
function hasSidecar(status: string | undefined): boolean {
  if (status === undefined) return false;
  try {
    const v = JSON.parse(status) as { initContainers?: unknown; containers?: unknown };
    return !(v && typeof v === 'object' && 'initContainers' in v && v.initContainers === null);
  } catch {
    return true;
  }
}
