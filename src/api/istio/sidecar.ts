import type { ConnectionPoolSettings } from './connection-pool.ts';
import type { Port } from './port.ts';
import type { ServerTLSSettings } from './tls-settings.ts';
import type { SidecarWorkloadSelector } from './workload-selector.ts';

export type CaptureMode = 'DEFAULT' | 'IPTABLES' | 'NONE';

/** networking.istio.io Sidecar spec. */
export interface SidecarSpec {
  workloadSelector?: SidecarWorkloadSelector;
  ingress?: IstioIngressListener[];
  egress?: IstioEgressListener[];
  inboundConnectionPool?: ConnectionPoolSettings;
  outboundTrafficPolicy?: OutboundTrafficPolicy;
}

export interface IstioIngressListener {
  port?: Port;
  bind?: string;
  captureMode?: CaptureMode;
  defaultEndpoint?: string;
  tls?: ServerTLSSettings;
  connectionPool?: ConnectionPoolSettings;
}

export interface IstioEgressListener {
  port?: Port;
  bind?: string;
  captureMode?: CaptureMode;
  /** `namespace/dnsName` entries (`*`, `.` and `~` namespaces). */
  hosts?: string[];
}

export interface OutboundTrafficPolicy {
  mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY';
  egressProxy?: { host?: string; subset?: string; port?: { number?: number } };
}
