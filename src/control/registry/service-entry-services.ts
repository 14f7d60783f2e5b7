import { resourceKey, type ConfigResource } from '../../api/config-resource.ts';
import type { ServiceEntrySpec } from '../../api/istio/service-entry.ts';
import type { WorkloadEntrySpec } from '../../api/istio/workload-entry.ts';
import { declaredProtocol } from './protocol.ts';
import type { Endpoint, Resolution, Service, ServicePort, Workload } from './service.ts';
import type { WorkloadIndex } from './workload-index.ts';
import { localityFromLabels, parseLocality, resolveExportTo, workloadEntryTlsMode } from './workload-labels.ts';

function resolutionOf(spec: ServiceEntrySpec): Resolution {
  switch (spec.resolution) {
    case 'STATIC':
      return 'STATIC';
    case 'DNS':
    case 'DYNAMIC_DNS':
      return 'DNS';
    case 'DNS_ROUND_ROBIN':
      return 'DNS_ROUND_ROBIN';
    default:
      return 'NONE';
  }
}

/**
 * A ServiceEntry as mesh services, one per host (as Istio does): its ports (declared protocol,
 * UNSUPPORTED when none), addresses as VIPs, resolution (default NONE), location (default
 * MESH_EXTERNAL), exportTo (default: the mesh's defaultServiceExportTo), workloadSelector.
 */
export function servicesFromServiceEntry(r: ConfigResource, defaultExportTo: readonly string[]): Service[] {
  const spec = r.spec as ServiceEntrySpec;
  const namespace = r.metadata.namespace ?? 'default';
  const ports: ServicePort[] = (spec.ports ?? [])
    .filter((p) => p.number !== undefined)
    .map((p) => {
      const sp: ServicePort = { name: p.name ?? '', port: p.number!, protocol: declaredProtocol(p.protocol) };
      if (p.targetPort !== undefined) sp.targetPort = p.targetPort;
      return sp;
    });
  const exportTo = resolveExportTo(spec.exportTo, namespace, defaultExportTo);
  return (spec.hosts ?? []).map((host) => {
    const s: Service = {
      hostname: host,
      namespace,
      ports,
      addresses: (spec.addresses ?? []).filter((a) => typeof a === 'string'),
      resolution: resolutionOf(spec),
      location: spec.location === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL',
      exportTo,
      labels: { ...(r.metadata.labels ?? {}) },
      registry: 'ServiceEntry',
      source: resourceKey(r),
    };
    if (spec.subjectAltNames && spec.subjectAltNames.length > 0) s.subjectAltNames = [...spec.subjectAltNames];
    const selector = spec.workloadSelector?.labels;
    if (selector && Object.keys(selector).length > 0) s.selector = { ...selector };
    return s;
  });
}

function portOn(named: Readonly<Record<string, number>> | undefined, sp: ServicePort): number {
  const byName = named?.[sp.name];
  if (byName !== undefined) return byName;
  return typeof sp.targetPort === 'number' ? sp.targetPort : sp.port;
}

function inlineEndpoint(service: Service, sp: ServicePort, we: WorkloadEntrySpec): Endpoint {
  const labels = { ...(we.labels ?? {}) };
  const e: Endpoint = {
    hostname: service.hostname,
    namespace: service.namespace,
    servicePort: sp.port,
    servicePortName: sp.name,
    address: we.address ?? '',
    port: portOn(we.ports, sp),
    labels,
    healthy: true,
    tlsMode: workloadEntryTlsMode(labels, we.serviceAccount),
  };
  if (we.serviceAccount) e.serviceAccount = we.serviceAccount;
  const locality = parseLocality(we.locality) ?? localityFromLabels(labels);
  if (locality) e.locality = locality;
  if (we.weight !== undefined) e.weight = we.weight;
  if (we.network) e.network = we.network;
  return e;
}

function workloadEndpoint(service: Service, sp: ServicePort, w: Workload): Endpoint {
  const e: Endpoint = {
    hostname: service.hostname,
    namespace: service.namespace,
    servicePort: sp.port,
    servicePortName: sp.name,
    address: w.address,
    // As Istio: the workload's port of the same name (WorkloadEntry ports, Pod container
    // ports), else the targetPort, else the port itself.
    port: portOn(w.ports, sp),
    labels: w.labels,
    healthy: w.healthy !== false,
    tlsMode: w.tlsMode,
    workloadName: w.name,
  };
  if (w.serviceAccount) e.serviceAccount = w.serviceAccount;
  if (w.locality) e.locality = w.locality;
  if (w.weight !== undefined) e.weight = w.weight;
  if (w.network) e.network = w.network;
  return e;
}

/**
 * Endpoints of one ServiceEntry host: its inline endpoints; or the WorkloadEntries and Pods of
 * its namespace matched by workloadSelector; or, for DNS resolution with neither, the host
 * itself (not for wildcard hosts).
 */
export function serviceEntryEndpoints(service: Service, r: ConfigResource, workloads: WorkloadIndex): Endpoint[] {
  const spec = r.spec as ServiceEntrySpec;
  const out: Endpoint[] = [];
  const selected = spec.endpoints && spec.endpoints.length > 0 ? [] : workloads.select(service.namespace, service.selector);
  for (const sp of service.ports) {
    if (spec.endpoints && spec.endpoints.length > 0) {
      for (const we of spec.endpoints) if (we.address) out.push(inlineEndpoint(service, sp, we));
    } else if (service.selector) {
      for (const w of selected) out.push(workloadEndpoint(service, sp, w));
    } else if ((service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') && !service.hostname.includes('*')) {
      out.push(inlineEndpoint(service, sp, { address: service.hostname }));
    }
  }
  return out;
}
