/**
 * Whether a pod gets a sidecar, by Istio's injection rules (the default sidecar-injector
 * webhooks, `enableNamespacesByDefault: false`):
 * - namespace `istio-injection=disabled`, kube-system/kube-public, or hostNetwork: never;
 * - namespace `istio-injection=enabled`: yes, unless the pod says `sidecar.istio.io/inject:
 *   "false"` (label, or the deprecated annotation when there is no label);
 * - namespace without the label: only when the pod label `sidecar.istio.io/inject` is "true"
 *   (the annotation alone does not trigger the webhook).
 * Ambient (`istio.io/dataplane-mode=ambient`) pods never get a sidecar.
 */
export const INJECT_KEY = 'sidecar.istio.io/inject';

export interface InjectionInput {
  namespace: string;
  namespaceLabels: Readonly<Record<string, string>>;
  podLabels: Readonly<Record<string, string>>;
  podAnnotations: Readonly<Record<string, string>>;
  hostNetwork?: boolean;
}

export type InjectionDecision = { inject: boolean; reason: string };

export function decideInjection(input: InjectionInput): InjectionDecision {
  if (input.hostNetwork) return { inject: false, reason: 'hostNetwork pod' };
  if (input.namespace === 'kube-system' || input.namespace === 'kube-public') return { inject: false, reason: `namespace ${input.namespace}` };
  const nsLabel = input.namespaceLabels['istio-injection'];
  if (nsLabel === 'disabled') return { inject: false, reason: 'namespace label istio-injection=disabled' };
  const podLabel = input.podLabels[INJECT_KEY];
  const podAnnotation = input.podAnnotations[INJECT_KEY];
  const ambient = input.podLabels['istio.io/dataplane-mode'] ?? input.namespaceLabels['istio.io/dataplane-mode'];
  if (nsLabel === 'enabled') {
    const says = podLabel ?? podAnnotation;
    if (says !== undefined && says.toLowerCase() === 'false') return { inject: false, reason: `pod ${INJECT_KEY}=false` };
    return { inject: true, reason: 'namespace label istio-injection=enabled' };
  }
  if (podLabel !== undefined && podLabel.toLowerCase() === 'true') return { inject: true, reason: `pod label ${INJECT_KEY}=true` };
  if (ambient === 'ambient') return { inject: false, reason: 'ambient data plane (no sidecar)' };
  return { inject: false, reason: 'injection not enabled for the namespace or pod' };
}
