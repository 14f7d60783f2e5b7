/** networking.istio.io WorkloadEntry spec (also a ServiceEntry endpoint and a WorkloadGroup template). */
export interface WorkloadEntrySpec {
  address?: string;
  /** Port name → port number on this workload. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}
