import { resourceRef, type ConfigResource } from '../../api/config-resource.ts';
import { SERVICE_NAME_LABEL } from '../../api/kube/endpoint-slice.ts';
import type { ServiceEntrySpec } from '../../api/istio/service-entry.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import { kubeServiceEndpoints, usesPodSelector, type KubeEndpointInputs } from './kube-endpoints.ts';
import { serviceFromKube } from './kube-service.ts';
import { workloadFromPod } from './pod-workload.ts';
import type { Endpoint, Locality, Service, Workload } from './service.ts';
import { serviceEntryEndpoints, servicesFromServiceEntry } from './service-entry-services.ts';
import { ServiceRegistry, indexEndpoints, type RegistryProblem, type ServiceWithEndpoints } from './service-registry.ts';
import { AUTO_REGISTRATION_GROUP_ANNOTATION, workloadFromWorkloadEntry } from './workload-entry-workload.ts';
import { WorkloadIndex } from './workload-index.ts';
import { localityFromLabels } from './workload-labels.ts';

/** The mesh settings the registry reads (a MeshConfig, or discovery's narrower view of one). */
export interface RegistryMeshSettings {
  /** DNS suffix of Kubernetes services; default `cluster.local`. */
  domainSuffix?: string;
  /** Visibility of services without exportTo; default `["*"]`. */
  defaultServiceExportTo?: readonly string[];
  rootNamespace?: string;
  trustDomain?: string;
}

const NO_WORKLOAD = null;

/** Every kind the registry reads. */
const INPUT_KINDS = ['Service', 'Endpoints', 'EndpointSlice', 'Pod', 'ServiceEntry', 'WorkloadEntry', 'WorkloadGroup', 'Node'] as const;

/**
 * Builds registry snapshots, remembering per-resource results between builds: the store hands
 * out the same object for a resource until it changes, so an unchanged Pod, WorkloadEntry,
 * Service or ServiceEntry is not converted again, and a ServiceEntry with inline (or DNS)
 * endpoints keeps its sorted endpoints. What depends on several resources (selector matching,
 * EndpointSlices) is recomputed on every build. Hold one builder per store.
 */
export class RegistryBuilder {
  private settingsKey = '';
  private workloadCache = new WeakMap<ConfigResource, Workload | typeof NO_WORKLOAD>();
  private kubeServiceCache = new WeakMap<ConfigResource, Service>();
  private lastNodes: readonly ConfigResource[] = [];
  private nodeLocality: ReadonlyMap<string, Locality> = new Map();
  private selectorCache = new WeakMap<ConfigResource, { selected: readonly Workload[]; byPort: ReadonlyMap<number, readonly Endpoint[]> }>();
  private last: { lists: (readonly ConfigResource[])[]; registry: ServiceRegistry } | undefined;
  private lastIndex: { workloads: readonly Workload[]; index: WorkloadIndex } | undefined;
  private serviceEntryCache = new WeakMap<ConfigResource, { services: Service[]; fixed?: ServiceWithEndpoints[] }>();

  build(reader: ConfigStoreReader, mesh: RegistryMeshSettings = {}): ServiceRegistry {
    const domainSuffix = mesh.domainSuffix ?? 'cluster.local';
    const defaultExportTo = mesh.defaultServiceExportTo ?? ['*'];
    const key = `${domainSuffix}|${defaultExportTo.join(',')}`;
    if (key !== this.settingsKey) {
      this.settingsKey = key;
      this.kubeServiceCache = new WeakMap();
      this.selectorCache = new WeakMap();
      this.serviceEntryCache = new WeakMap();
      this.last = undefined;
    }
    // Nothing the registry reads changed (e.g. only a VirtualService did): same snapshot.
    const lists = INPUT_KINDS.map((k) => reader.list(k));
    if (this.last && lists.every((l, i) => sameItems(l, this.last!.lists[i]))) return this.last.registry;
    const groups = reader.list('WorkloadGroup');
    // Pods take their locality from their node (as istiod does): a Node change re-reads every pod.
    const nodes = reader.list('Node');
    if (!sameItems(nodes, this.lastNodes)) {
      this.lastNodes = nodes;
      this.workloadCache = new WeakMap();
      const byNode = new Map<string, Locality>();
      for (const n of nodes) {
        const locality = localityFromLabels(n.metadata.labels ?? {});
        if (locality) byNode.set(n.metadata.name, locality);
      }
      this.nodeLocality = byNode;
    }
    const nodeLocality = this.nodeLocality;
    const workloads: Workload[] = [];
    const problems: RegistryProblem[] = [];
    // Resources reach the store validated; a conversion that still fails skips that resource only.
    const guard = (r: ConfigResource, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        problems.push({ resource: resourceRef(r), message: `not in the registry: ${(err as Error).message}` });
      }
    };
    for (const r of reader.list('Pod')) guard(r, () => this.addWorkload(r, workloads, () => workloadFromPod(r, nodeLocality)));
    for (const r of reader.list('WorkloadEntry')) {
      const grouped = r.metadata.annotations?.[AUTO_REGISTRATION_GROUP_ANNOTATION] !== undefined;
      guard(r, () => {
        if (!grouped) return this.addWorkload(r, workloads, () => workloadFromWorkloadEntry(r, groups));
        const w = workloadFromWorkloadEntry(r, groups); // depends on the group too: not cached
        if (w) workloads.push(w);
      });
    }
    const reusable = this.lastIndex && (sameItems(this.lastIndex.workloads, workloads) || this.lastIndex.index.update(this.lastIndex.workloads, workloads));
    const index = reusable ? this.lastIndex!.index : new WorkloadIndex(workloads);
    this.lastIndex = { workloads, index };
    const slicesByService = new Map<string, ConfigResource[]>();
    for (const s of reader.list('EndpointSlice')) {
      const owner = s.metadata.labels?.[SERVICE_NAME_LABEL];
      if (!owner) continue;
      const k = `${s.metadata.namespace ?? 'default'}/${owner}`;
      const list = slicesByService.get(k);
      if (list) list.push(s);
      else slicesByService.set(k, [s]);
    }
    const out: ServiceWithEndpoints[] = [];
    for (const r of reader.list('Service')) {
      guard(r, () => out.push(this.kubeService(r, domainSuffix, defaultExportTo, { slices: slicesByService.get(`${r.metadata.namespace ?? 'default'}/${r.metadata.name}`) ?? [], endpoints: reader.get('Endpoints', r.metadata.namespace, r.metadata.name), pods: index })));
    }
    for (const r of reader.list('ServiceEntry')) guard(r, () => out.push(...this.serviceEntry(r, defaultExportTo, index)));
    const registry = new ServiceRegistry(out, workloads, problems);
    this.last = { lists, registry };
    return registry;
  }

  private kubeService(r: ConfigResource, domainSuffix: string, defaultExportTo: readonly string[], inputs: KubeEndpointInputs): ServiceWithEndpoints {
    let service = this.kubeServiceCache.get(r);
    if (!service) {
      service = serviceFromKube(r, domainSuffix, defaultExportTo);
      this.kubeServiceCache.set(r, service);
    }
    if (!usesPodSelector(r, inputs)) return { service, byPort: indexEndpoints(service, kubeServiceEndpoints(service, r, inputs)) };
    // Selector-matched workloads: reuse the endpoints while the service and its workloads are the same objects.
    const selected = inputs.pods.select(service.namespace, service.selector);
    const cached = this.selectorCache.get(r);
    if (cached && sameItems(cached.selected, selected)) return { service, byPort: cached.byPort };
    const byPort = indexEndpoints(service, kubeServiceEndpoints(service, r, { ...inputs, selected }));
    this.selectorCache.set(r, { selected, byPort });
    return { service, byPort };
  }

  private serviceEntry(r: ConfigResource, defaultExportTo: readonly string[], index: WorkloadIndex): ServiceWithEndpoints[] {
    let cached = this.serviceEntryCache.get(r);
    if (!cached) {
      cached = { services: servicesFromServiceEntry(r, defaultExportTo) };
      if (!selectsWorkloads(r)) {
        cached.fixed = cached.services.map((service) => ({ service, byPort: indexEndpoints(service, serviceEntryEndpoints(service, r, index)) }));
      }
      this.serviceEntryCache.set(r, cached);
    }
    return cached.fixed ?? cached.services.map((service) => ({ service, byPort: indexEndpoints(service, serviceEntryEndpoints(service, r, index)) }));
  }

  private addWorkload(r: ConfigResource, out: Workload[], convert: () => Workload | undefined): void {
    let w = this.workloadCache.get(r);
    if (w === undefined) {
      w = convert() ?? NO_WORKLOAD;
      this.workloadCache.set(r, w);
    }
    if (w) out.push(w);
  }
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Does a ServiceEntry take its endpoints from workloads (so they change without it changing)? */
function selectsWorkloads(r: ConfigResource): boolean {
  const spec = r.spec as ServiceEntrySpec;
  const inline = spec.endpoints !== undefined && spec.endpoints.length > 0;
  return !inline && Object.keys(spec.workloadSelector?.labels ?? {}).length > 0;
}
