import type { ConfigResource } from '../config-resource.ts';
import type { AuthorizationPolicySpec } from './authorization-policy.ts';
import type { DestinationRuleSpec } from './destination-rule.ts';
import type { GatewaySpec } from './gateway.ts';
import type { PeerAuthenticationSpec } from './peer-authentication.ts';
import type { RequestAuthenticationSpec } from './request-authentication.ts';
import type { ServiceEntrySpec } from './service-entry.ts';
import type { SidecarSpec } from './sidecar.ts';
import type { TelemetrySpec } from './telemetry.ts';
import type { VirtualServiceSpec } from './virtual-service.ts';
import type { WorkloadEntrySpec } from './workload-entry.ts';
import type { WorkloadGroupSpec } from './workload-group.ts';

/** Istio kind name → its spec type, for typed access: `asKind(r, 'VirtualService').spec.http`. */
export interface IstioSpecByKind {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  Gateway: GatewaySpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
  WorkloadGroup: WorkloadGroupSpec;
  Sidecar: SidecarSpec;
  PeerAuthentication: PeerAuthenticationSpec;
  RequestAuthentication: RequestAuthenticationSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  Telemetry: TelemetrySpec;
}

export type IstioKindName = keyof IstioSpecByKind;

/**
 * Narrow a resource to a kind's typed view, or undefined when it is another kind. The spec is
 * not checked here: only resources that passed validation should be read this way.
 */
export function asKind<K extends IstioKindName>(r: ConfigResource, kind: K): ConfigResource<IstioSpecByKind[K]> | undefined {
  return r.kind === kind ? (r as unknown as ConfigResource<IstioSpecByKind[K]>) : undefined;
}
