import type { ConfigResource } from '../../api/config-resource.ts';

/** A pod the ambient data plane redirects (Istio's `ambient.istio.io/redirection: enabled`). */
export function podInAmbientMode(pod: ConfigResource | undefined): boolean {
  return pod?.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled';
}

/** A namespace labelled for ambient and not also for sidecar injection. */
export function namespaceInAmbientMode(ns: ConfigResource | undefined): boolean {
  const labels = ns?.metadata.labels ?? {};
  return labels['istio.io/dataplane-mode'] === 'ambient' && labels['istio-injection'] === undefined && labels['istio.io/rev'] === undefined;
}
