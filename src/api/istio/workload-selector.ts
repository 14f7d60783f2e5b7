/**
 * Selecting workloads: by labels (`selector.matchLabels` in security/telemetry kinds,
 * `workloadSelector.labels` in Sidecar, `workloadSelector.matchLabels` in DestinationRule), or
 * by reference to a Gateway API resource / Service (`targetRef`, `targetRefs`).
 */
export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

/** networking's selector (Sidecar, ServiceEntry) spells the field `labels`. */
export interface SidecarWorkloadSelector {
  labels?: Record<string, string>;
}

export interface PolicyTargetReference {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

/** Same shape as SidecarWorkloadSelector, named for ServiceEntry readers. */
export type NetworkingWorkloadSelector = SidecarWorkloadSelector;
