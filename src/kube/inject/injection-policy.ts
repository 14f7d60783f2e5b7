/**
 * Whether the injector injects a pod that reached it, by Istio's injectRequired rules: the
 * webhook configuration's namespace/object selectors already chose the pods (namespace label
 * `istio-injection`, `istio.io/rev`, pod label `sidecar.istio.io/inject`); here the pod's own
 * word and the cases Istio never injects are applied.
 */
export const INJECT_KEY = 'sidecar.istio.io/inject';
export const STATUS_ANNOTATION = 'sidecar.istio.io/status';

export interface PodLike {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; name?: string; generateName?: string; namespace?: string };
  spec?: { hostNetwork?: boolean; [k: string]: unknown };
}

export function injectRequired(pod: PodLike, namespace: string): { inject: boolean; reason: string } {
  if (pod.spec?.hostNetwork) return { inject: false, reason: 'hostNetwork pod' };
  if (namespace === 'kube-system' || namespace === 'kube-public') return { inject: false, reason: `namespace ${namespace}` };
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[STATUS_ANNOTATION] !== undefined) return { inject: false, reason: `already injected (${STATUS_ANNOTATION} is set)` };
  const says = pod.metadata?.labels?.[INJECT_KEY] ?? annotations[INJECT_KEY];
  if (says !== undefined) {
    const v = says.toLowerCase();
    if (v === 'false' || v === 'n' || v === 'no' || v === 'off') return { inject: false, reason: `${INJECT_KEY}=${says}` };
  }
  return { inject: true, reason: says !== undefined ? `${INJECT_KEY}=${says}` : 'selected by the webhook' };
}
