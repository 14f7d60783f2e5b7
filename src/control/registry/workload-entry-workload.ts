import { resourceKey, type ConfigResource } from '../../api/config-resource.ts';
import type { WorkloadEntrySpec } from '../../api/istio/workload-entry.ts';
import type { WorkloadGroupSpec } from '../../api/istio/workload-group.ts';
import type { Workload } from './service.ts';
import { localityFromLabels, parseLocality, workloadEntryTlsMode } from './workload-labels.ts';

/** Annotation Istio puts on WorkloadEntries it registered for a WorkloadGroup. */
export const AUTO_REGISTRATION_GROUP_ANNOTATION = 'istio.io/autoRegistrationGroup';

interface Condition {
  type?: string;
  status?: string;
}

/** Istio's WorkloadEntry health: the `Healthy` status condition when present, else healthy. */
function workloadEntryHealthy(r: ConfigResource): boolean {
  const conditions = ((r.raw.status ?? {}) as { conditions?: Condition[] }).conditions;
  const healthy = conditions?.find((c) => c.type === 'Healthy');
  return healthy ? healthy.status === 'True' : true;
}

/**
 * The WorkloadEntry's fields, completed from its WorkloadGroup's template (labels, service
 * account, ports, network, locality, weight) when it was registered for one.
 */
export function effectiveWorkloadEntrySpec(r: ConfigResource, groups: readonly ConfigResource[]): WorkloadEntrySpec {
  const spec = r.spec as WorkloadEntrySpec;
  const groupName = r.metadata.annotations?.[AUTO_REGISTRATION_GROUP_ANNOTATION];
  const group = groupName ? groups.find((g) => g.metadata.name === groupName && g.metadata.namespace === r.metadata.namespace) : undefined;
  if (!group) return spec;
  const g = group.spec as WorkloadGroupSpec;
  const t = g.template ?? {};
  return {
    ...t,
    ...spec,
    labels: { ...(g.metadata?.labels ?? {}), ...(t.labels ?? {}), ...(spec.labels ?? {}) },
    ports: { ...(t.ports ?? {}), ...(spec.ports ?? {}) },
  };
}

/** A WorkloadEntry as a workload; undefined when it has no address. */
export function workloadFromWorkloadEntry(r: ConfigResource, groups: readonly ConfigResource[]): Workload | undefined {
  const spec = effectiveWorkloadEntrySpec(r, groups);
  if (!spec.address) return undefined;
  const labels = { ...(spec.labels ?? {}) };
  const w: Workload = {
    kind: 'WorkloadEntry',
    name: r.metadata.name,
    namespace: r.metadata.namespace ?? 'default',
    address: spec.address,
    labels,
    ports: { ...(spec.ports ?? {}) },
    tlsMode: workloadEntryTlsMode(labels, spec.serviceAccount),
    healthy: workloadEntryHealthy(r),
    source: resourceKey(r),
  };
  if (spec.serviceAccount) w.serviceAccount = spec.serviceAccount;
  const locality = parseLocality(spec.locality) ?? localityFromLabels(labels);
  if (locality) w.locality = locality;
  if (spec.network) w.network = spec.network;
  if (spec.weight !== undefined) w.weight = spec.weight;
  return w;
}
