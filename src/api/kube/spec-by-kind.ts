import type { ConfigResource } from '../config-resource.ts';
import type { ConfigMapPayload } from './config-map.ts';
import type { DeploymentSpec } from './deployment.ts';
import type { EndpointSlicePayload } from './endpoint-slice.ts';
import type { EndpointsPayload } from './endpoints.ts';
import type { NamespaceSpec } from './namespace.ts';
import type { PodSpec } from './pod.ts';
import type { ServiceAccountPayload } from './service-account.ts';
import type { ServiceSpec } from './service.ts';

/**
 * Kubernetes kind → the type of ConfigResource.spec (for kinds without `spec`, the object minus
 * apiVersion/kind/metadata/status, as parse-documents builds it).
 */
export interface KubeSpecByKind {
  Service: ServiceSpec;
  Endpoints: EndpointsPayload;
  EndpointSlice: EndpointSlicePayload;
  Pod: PodSpec;
  Deployment: DeploymentSpec;
  Namespace: NamespaceSpec;
  ServiceAccount: ServiceAccountPayload;
  ConfigMap: ConfigMapPayload;
}

export type KubeKindName = keyof KubeSpecByKind;

/** Narrow a resource to a Kubernetes kind's typed view, or undefined when it is another kind (not checked: validate first). */
export function asKubeKind<K extends KubeKindName>(r: ConfigResource, kind: K): ConfigResource<KubeSpecByKind[K]> | undefined {
  return r.kind === kind ? (r as unknown as ConfigResource<KubeSpecByKind[K]>) : undefined;
}
