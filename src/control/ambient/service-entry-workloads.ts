import type { ConfigResource } from '../../api/config-resource.ts';
import type { ServiceEntrySpec } from '../../api/istio/service-entry.ts';
import type { WorkloadEntrySpec } from '../../api/istio/workload-entry.ts';
import type { WorkloadResource } from '../../api/workload/workload-types.ts';
import { AMBIENT_REDIRECTION_ANNOTATION, ipToBase64, TUNNEL_LABEL } from '../../api/workload/workload-types.ts';
import { parseLocality } from '../registry/workload-labels.ts';
import { canonicalService, serviceEntryWorkloadUid, type WorkloadContext } from './workload-resource.ts';

/**
 * The Workloads of a ServiceEntry (istiod's serviceEntryWorkloadBuilder): one per inline
 * endpoint, or, for a DNS-resolved entry without endpoints or selector, one per host with the
 * host as its hostname. Ports map by the entry's port names to the endpoint's `ports`.
 */
export function serviceEntryWorkloads(
  r: ConfigResource<ServiceEntrySpec>,
  clusterId: string,
  trustDomain: string,
  context: (address: string | undefined, labels: Readonly<Record<string, string>>) => WorkloadContext,
): WorkloadResource[] {
  const spec = r.spec ?? {};
  const namespace = r.metadata.namespace ?? 'default';
  const hosts = spec.hosts ?? [];
  const dns = spec.resolution === 'DNS' || spec.resolution === 'DNS_ROUND_ROBIN' || spec.resolution === 'DYNAMIC_DNS';
  const implicit = (spec.endpoints ?? []).length === 0 && dns && spec.workloadSelector === undefined;
  const endpoints: WorkloadEntrySpec[] = implicit ? hosts.map((h) => ({ address: h })) : (spec.endpoints ?? []);
  const labels = r.metadata.labels ?? {};
  const canonical = canonicalService(labels, r.metadata.name);
  const out: WorkloadResource[] = [];
  endpoints.forEach((ep, i) => {
    const address = ep.address ?? '';
    if (!address) return;
    const hostsOf = implicit ? [hosts[i]!] : hosts;
    const services: WorkloadResource['services'] = {};
    for (const h of hostsOf) {
      services[`${namespace}/${h}`] = {
        ports: (spec.ports ?? [])
          .filter((p) => typeof p.number === 'number')
          .map((p) => ({ servicePort: p.number!, targetPort: (p.name && ep.ports?.[p.name]) || p.targetPort || p.number! })),
      };
    }
    const ctx = context(address, { ...labels, ...(ep.labels ?? {}) });
    const isIp = /^[0-9.]+$/.test(address) || address.includes(':');
    const w: WorkloadResource = {
      uid: serviceEntryWorkloadUid(clusterId, namespace, r.metadata.name, address),
      name: r.metadata.name,
      namespace,
      ...(isIp ? { addresses: [ipToBase64(address)] } : { hostname: address }),
      network: ep.network ?? '',
      ...(labels[TUNNEL_LABEL] === 'http' ? { tunnelProtocol: 'HBONE' as const, nativeTunnel: true } : r.metadata.annotations?.[AMBIENT_REDIRECTION_ANNOTATION] === 'enabled' ? { tunnelProtocol: 'HBONE' as const } : {}),
      trustDomain: trustDomain === 'cluster.local' ? '' : trustDomain,
      serviceAccount: ep.serviceAccount ?? '',
      canonicalName: canonical.name,
      canonicalRevision: canonical.revision,
      workloadType: 'POD',
      workloadName: r.metadata.name,
      services,
      authorizationPolicies: ctx.authorizationPolicies,
      status: 'HEALTHY',
      clusterId,
    };
    const loc = parseLocality(ep.locality);
    if (loc) w.locality = loc;
    if (ep.weight && ep.weight > 0) w.capacity = ep.weight;
    out.push(w);
  });
  return out;
}
