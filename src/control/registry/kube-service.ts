import { resourceKey, type ConfigResource } from '../../api/config-resource.ts';
import type { ServiceSpec } from '../../api/kube/service.ts';
import { kubePortProtocol } from './protocol.ts';
import type { Service, ServicePort } from './service.ts';
import { resolveExportTo } from './workload-labels.ts';

/** Istio's annotation restricting a Kubernetes Service's visibility (comma-separated). */
export const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';

/**
 * A Kubernetes Service as a mesh service: `name.ns.svc.DOMAIN`, ClusterIP(s) as VIPs (none for
 * headless and ExternalName), ports with Istio's protocol rules and their targetPort (default:
 * the port), resolution STATIC (PASSTHROUGH when headless, DNS for ExternalName), exportTo from
 * the annotation or the mesh default. ExternalName services are MESH_EXTERNAL, as in Istio.
 */
export function serviceFromKube(r: ConfigResource, domainSuffix: string, defaultExportTo: readonly string[]): Service {
  const spec = r.spec as ServiceSpec;
  const namespace = r.metadata.namespace ?? 'default';
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
    name: p.name ?? '',
    port: p.port,
    protocol: kubePortProtocol(p.port, p.name, p.protocol, p.appProtocol),
    targetPort: p.targetPort ?? p.port,
  }));
  const headless = spec.clusterIP === 'None';
  const external = spec.type === 'ExternalName';
  const ips = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  const addresses = headless || external ? [] : ips.filter((ip) => ip !== '' && ip !== 'None');
  const annotation = r.metadata.annotations?.[EXPORT_TO_ANNOTATION];
  const exportTo = annotation ? annotation.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const service: Service = {
    hostname: `${r.metadata.name}.${namespace}.svc.${domainSuffix}`,
    namespace,
    name: r.metadata.name,
    ports,
    addresses,
    resolution: external ? 'DNS' : headless ? 'PASSTHROUGH' : 'STATIC',
    location: external ? 'MESH_EXTERNAL' : 'MESH_INTERNAL',
    exportTo: resolveExportTo(exportTo, namespace, defaultExportTo),
    labels: { ...(r.metadata.labels ?? {}) },
    registry: 'Kubernetes',
    source: resourceKey(r),
  };
  if (spec.selector && Object.keys(spec.selector).length > 0) service.selector = { ...spec.selector };
  return service;
}
