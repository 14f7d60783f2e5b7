import { SERVICE_NAME_LABEL } from '../../api/kube/endpoint-slice.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import { kubeServiceEndpoints } from './kube-endpoints.ts';
import { serviceFromKube } from './kube-service.ts';
import { workloadFromPod } from './pod-workload.ts';
import type { Workload } from './service.ts';
import { serviceEntryEndpoints, servicesFromServiceEntry } from './service-entry-services.ts';
import { ServiceRegistry, type ServiceWithEndpoints } from './service-registry.ts';
import { WorkloadIndex } from './workload-index.ts';
import { workloadFromWorkloadEntry } from './workload-entry-workload.ts';

/** The mesh settings the registry reads (a MeshConfig, or discovery's narrower view of one). */
export interface RegistryMeshSettings {
  /** DNS suffix of Kubernetes services; default `cluster.local`. */
  domainSuffix?: string;
  /** Visibility of services without exportTo; default `["*"]`. */
  defaultServiceExportTo?: readonly string[];
  rootNamespace?: string;
  trustDomain?: string;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * Build the service registry from the config in force: Kubernetes Services with their endpoints
 * (EndpointSlices, Endpoints, or selected Pods), ServiceEntries with theirs (inline, or selected
 * WorkloadEntries and Pods, or DNS hosts), and every Pod/WorkloadEntry as a workload. Pure:
 * the same store content gives the same snapshot. The push pipeline rebuilds it on change.
 */
export function buildRegistry(reader: ConfigStoreReader, mesh: RegistryMeshSettings = {}): ServiceRegistry {
  const domainSuffix = mesh.domainSuffix ?? 'cluster.local';
  const defaultExportTo = mesh.defaultServiceExportTo ?? ['*'];
  const groups = reader.list('WorkloadGroup');
  const pods = reader.list('Pod').map(workloadFromPod).filter((w): w is Workload => w !== undefined);
  const entries = reader.list('WorkloadEntry').map((r) => workloadFromWorkloadEntry(r, groups)).filter((w): w is Workload => w !== undefined);
  const workloads = [...pods, ...entries];
  const workloadIndex = new WorkloadIndex(workloads);
  const slicesByService = groupBy(
    reader.list('EndpointSlice').filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL]),
    (s) => `${s.metadata.namespace ?? 'default'}/${s.metadata.labels![SERVICE_NAME_LABEL]}`,
  );
  const out: ServiceWithEndpoints[] = [];
  for (const r of reader.list('Service')) {
    const service = serviceFromKube(r, domainSuffix, defaultExportTo);
    const endpoints = kubeServiceEndpoints(service, r, {
      slices: slicesByService.get(`${service.namespace}/${r.metadata.name}`) ?? [],
      endpoints: reader.get('Endpoints', service.namespace, r.metadata.name),
      pods: workloadIndex,
    });
    out.push({ service, endpoints });
  }
  for (const r of reader.list('ServiceEntry')) {
    for (const service of servicesFromServiceEntry(r, defaultExportTo)) {
      out.push({ service, endpoints: serviceEntryEndpoints(service, r, workloadIndex) });
    }
  }
  return new ServiceRegistry(out, workloads);
}

/** Kinds the registry reads. */
export const REGISTRY_KINDS: ReadonlySet<string> = new Set(['Service', 'Endpoints', 'EndpointSlice', 'Pod', 'ServiceEntry', 'WorkloadEntry', 'WorkloadGroup']);

