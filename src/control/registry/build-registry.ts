import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import { RegistryBuilder, type RegistryMeshSettings } from './registry-builder.ts';
import type { ServiceRegistry } from './service-registry.ts';

export type { RegistryMeshSettings };

/**
 * Build the service registry from the config in force: Kubernetes Services with their endpoints
 * (EndpointSlices, Endpoints, or selected Pods), ServiceEntries with theirs (inline, or selected
 * WorkloadEntries and Pods, or DNS hosts), and every Pod/WorkloadEntry as a workload. Pure:
 * the same store content gives the same snapshot. For repeated builds over one store, hold a
 * RegistryBuilder (`builder.build(reader, mesh)`): it reuses per-resource results.
 */
export function buildRegistry(reader: ConfigStoreReader, mesh: RegistryMeshSettings = {}): ServiceRegistry {
  return new RegistryBuilder().build(reader, mesh);
}

/** Kinds the registry reads. */
export const REGISTRY_KINDS: ReadonlySet<string> = new Set(['Service', 'Endpoints', 'EndpointSlice', 'Pod', 'ServiceEntry', 'WorkloadEntry', 'WorkloadGroup']);
