import type { WorkloadEntrySpec } from './workload-entry.ts';
import type { SidecarWorkloadSelector } from './workload-selector.ts';

export type ServiceEntryLocation = 'MESH_EXTERNAL' | 'MESH_INTERNAL';
export type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';

export interface ServicePort {
  number?: number;
  protocol?: string;
  name?: string;
  targetPort?: number;
}

/** networking.istio.io ServiceEntry spec. */
export interface ServiceEntrySpec {
  hosts?: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: ServiceEntryLocation;
  resolution?: ServiceEntryResolution;
  endpoints?: WorkloadEntrySpec[];
  /** networking's WorkloadSelector: `labels` (not `matchLabels`). */
  workloadSelector?: SidecarWorkloadSelector;
  exportTo?: string[];
  subjectAltNames?: string[];
}
