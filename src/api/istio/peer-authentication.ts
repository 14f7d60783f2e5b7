import type { PolicyTargetReference, WorkloadSelector } from './workload-selector.ts';

export type MutualTlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** security.istio.io PeerAuthentication spec. */
export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MutualTlsMode };
  /** Port number (as a map key string) → mode. */
  portLevelMtls?: Record<string, { mode?: MutualTlsMode }>;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
}
