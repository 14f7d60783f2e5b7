import type { RegistrySnapshot } from '../registry/service.ts';

/** /debug/registryz: every service with its ports and endpoints (like istiod's registryz). */
export function registryDump(registry: RegistrySnapshot): unknown[] {
  return registry.services.map((s) => ({
    hostname: s.hostname,
    namespace: s.namespace,
    ...(s.name !== undefined ? { name: s.name } : {}),
    registry: s.registry,
    resolution: s.resolution,
    location: s.location,
    addresses: s.addresses,
    exportTo: s.exportTo,
    labels: s.labels,
    source: s.source,
    ports: s.ports.map((p) => ({
      ...p,
      endpoints: registry.endpoints(s.hostname, p.port, s.namespace).map((e) => ({
        address: e.address,
        port: e.port,
        labels: e.labels,
        healthy: e.healthy,
        tlsMode: e.tlsMode,
        ...(e.serviceAccount ? { serviceAccount: e.serviceAccount } : {}),
        ...(e.locality ? { locality: e.locality } : {}),
        ...(e.weight !== undefined ? { weight: e.weight } : {}),
        ...(e.workloadName ? { workloadName: e.workloadName } : {}),
      })),
    })),
  }));
}
