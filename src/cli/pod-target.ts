import { MizzenError } from '../lib/errors.ts';
import type { ClusterAccess, KubeObject } from './cluster-access.ts';
import { parseLabelSelector } from './label-selector.ts';
import { resolveKind } from './resource-args.ts';

/** The annotation naming the container kubectl picks when none is given (Istio's injector sets it to the app). */
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

const ready = (p: KubeObject): boolean => (p.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True');

/**
 * The pod a `logs`/`exec` target names: `POD`, `pod/POD`, or `deploy/NAME` (a pod its selector
 * picks, ready ones first, as kubectl does; with several, kubectl's "Found N pods" note).
 */
export async function resolvePod(access: ClusterAccess, namespace: string, ref: string, note: (line: string) => void): Promise<KubeObject> {
  const slash = ref.indexOf('/');
  const kind = slash < 0 ? resolveKind('pods') : resolveKind(ref.slice(0, slash));
  const name = slash < 0 ? ref : ref.slice(slash + 1);
  const pods = (await access.list(resolveKind('pods'), namespace)).filter((p) => !p.metadata?.deletionTimestamp || p.metadata?.name === name);
  if (kind.kind === 'Pod') {
    const pod = pods.find((p) => p.metadata?.name === name);
    if (!pod) throw new MizzenError('USAGE', `pods "${name}" not found`);
    return pod;
  }
  if (kind.kind !== 'Deployment') throw new MizzenError('USAGE', `cannot pick a pod of a ${kind.kind}: use POD, pod/NAME or deploy/NAME`);
  const d = (await access.list(kind, namespace)).find((x) => x.metadata?.name === name);
  if (!d) throw new MizzenError('USAGE', `deployments.apps "${name}" not found`);
  const selector = Object.entries((d.spec?.selector?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
  const match = parseLabelSelector(selector);
  const candidates = pods.filter((p) => match(p.metadata?.labels)).sort((a, b) => Number(ready(b)) - Number(ready(a)));
  if (candidates.length === 0) throw new MizzenError('USAGE', `no pods found for deployment ${name} in namespace ${namespace}`);
  if (candidates.length > 1) note(`Found ${candidates.length} pods, using pod/${candidates[0].metadata?.name}`);
  return candidates[0];
}

/** kubectl's list of a pod's containers in messages: `app, istio-proxy, istio-init (init)`. */
export function allContainerNames(pod: KubeObject): string {
  const names: string[] = (pod.spec?.containers ?? []).map((c: KubeObject) => String(c.name));
  for (const c of pod.spec?.initContainers ?? []) names.push(`${c.name} (init)`);
  for (const c of pod.spec?.ephemeralContainers ?? []) names.push(`${c.name} (ephem)`);
  return names.join(', ');
}

/**
 * The container `logs`/`exec` act on, as kubectl picks it: the one given (`-c`), else the pod's
 * `kubectl.kubernetes.io/default-container` annotation, else the first container, with kubectl's
 * "Defaulted container" note when the pod has several.
 */
export function chooseContainer(pod: KubeObject, given: string | undefined, note: (line: string) => void): string {
  const podName = String(pod.metadata?.name ?? '');
  const all: KubeObject[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  const exists = (n: string): boolean => all.some((c) => c.name === n);
  let name = given;
  if (!name) {
    const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION] as string | undefined;
    if (annotated && exists(annotated)) name = annotated;
    else if (annotated) note(`Default container name "${annotated}" not found in pod ${podName}`);
  }
  if (!name) {
    const containers: KubeObject[] = pod.spec?.containers ?? [];
    if (containers.length === 0) throw new MizzenError('USAGE', `pod ${podName} has no containers`);
    if (containers.length > 1) note(`Defaulted container "${containers[0].name}" out of: ${allContainerNames(pod)}`);
    return String(containers[0].name);
  }
  if (!exists(name)) throw new MizzenError('USAGE', `container ${name} not found in pod ${podName}`, { hint: `its containers: ${allContainerNames(pod)}` });
  return name;
}
