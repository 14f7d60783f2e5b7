import type { WorkloadEntrySpec } from './workload-entry.ts';

/** networking.istio.io WorkloadGroup spec. */
export interface WorkloadGroupSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  template?: WorkloadEntrySpec;
  probe?: ReadinessProbe;
}

export interface ReadinessProbe {
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  httpGet?: { path?: string; port?: number; host?: string; scheme?: string; httpHeaders?: { name?: string; value?: string }[] };
  tcpSocket?: { host?: string; port?: number };
  exec?: { command?: string[] };
  grpc?: { port?: number; service?: string };
}
