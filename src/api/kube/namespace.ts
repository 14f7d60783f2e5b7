/** core/v1 Namespace: Mizzen only reads its metadata (labels such as `istio-injection`). */
export interface NamespaceSpec {
  finalizers?: string[];
}

export const INJECTION_LABEL = 'istio-injection';
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
