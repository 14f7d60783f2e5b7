/**
 * Which pods ambient mode captures (istio-cni's default enablement selectors and exclusions):
 * - the pod label `istio.io/dataplane-mode=ambient` (any namespace), or the namespace label
 *   `ambient` with the pod not labelled `none`;
 * - never hostNetwork pods, pods with a sidecar (`sidecar.istio.io/status`: the sidecar wins),
 *   nor ztunnel itself (`app=ztunnel` in istio-system).
 */
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
export const BYPASS_INBOUND_ANNOTATION = 'ambient.istio.io/bypass-inbound-capture';
export const DNS_CAPTURE_ANNOTATION = 'ambient.istio.io/dns-capture';

export interface AmbientSelectionInput {
  namespace: string;
  namespaceLabels: Readonly<Record<string, string>>;
  podLabels: Readonly<Record<string, string>>;
  podAnnotations: Readonly<Record<string, string>>;
  hostNetwork?: boolean;
  /** The pod runs a sidecar (injected). */
  sidecar?: boolean;
}

export type AmbientDecision = { ambient: boolean; reason: string };

export function decideAmbient(i: AmbientSelectionInput): AmbientDecision {
  if (i.hostNetwork) return { ambient: false, reason: 'hostNetwork pod' };
  if (i.sidecar || i.podAnnotations['sidecar.istio.io/status'] !== undefined) return { ambient: false, reason: 'the pod has a sidecar' };
  if (i.namespace === 'istio-system' && i.podLabels.app === 'ztunnel') return { ambient: false, reason: 'ztunnel itself' };
  const pod = i.podLabels[DATAPLANE_MODE_LABEL];
  if (pod === 'ambient') return { ambient: true, reason: `pod label ${DATAPLANE_MODE_LABEL}=ambient` };
  if (pod === 'none') return { ambient: false, reason: `pod label ${DATAPLANE_MODE_LABEL}=none` };
  if (i.namespaceLabels[DATAPLANE_MODE_LABEL] === 'ambient') return { ambient: true, reason: `namespace label ${DATAPLANE_MODE_LABEL}=ambient` };
  return { ambient: false, reason: 'not enrolled' };
}

/** A bool annotation as Istio reads it (`true`/`false`, else the default). */
export function annotationFlag(annotations: Readonly<Record<string, string>>, key: string, fallback: boolean): boolean {
  const v = annotations[key];
  if (v === undefined) return fallback;
  return /^(1|t|true)$/i.test(v);
}
