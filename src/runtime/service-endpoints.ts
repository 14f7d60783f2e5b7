import type { ServicePortSpec, ServiceSpec } from '../api/kube/service.ts';
import type { ServiceBackend, ServiceNatEntry } from './service-nat-rules.ts';

/** What the runtime knows of a pod when computing a Service's backends. */
export interface EndpointPod {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  ip: string;
  ready: boolean;
  /** Container ports by name, for named targetPorts. */
  namedPorts: Readonly<Record<string, number>>;
}

export interface ServiceView {
  name: string;
  namespace: string;
  vip: string;
  spec: ServiceSpec;
}

export function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The workload port a Service port reaches on one pod, or undefined when a named port is missing. */
export function targetPortOn(port: ServicePortSpec, pod: EndpointPod): number | undefined {
  const t = port.targetPort;
  if (t === undefined) return port.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  return pod.namedPorts[t];
}

/** Ready backends of one Service port. */
export function serviceBackends(service: ServiceView, port: ServicePortSpec, pods: readonly EndpointPod[]): ServiceBackend[] {
  const out: ServiceBackend[] = [];
  for (const pod of pods) {
    if (pod.namespace !== service.namespace || !pod.ready || !selects(service.spec.selector, pod.labels)) continue;
    const p = targetPortOn(port, pod);
    if (p !== undefined) out.push({ address: pod.ip, port: p });
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}

/** kube-proxy's table: every Service port with its ready backends. */
export function serviceNatEntries(services: readonly ServiceView[], pods: readonly EndpointPod[]): ServiceNatEntry[] {
  const out: ServiceNatEntry[] = [];
  for (const s of services) {
    if (!s.vip || s.spec.clusterIP === 'None') continue;
    for (const port of s.spec.ports ?? []) {
      const protocol = port.protocol === 'UDP' ? 'UDP' : 'TCP';
      out.push({ vip: s.vip, port: port.port, protocol, backends: serviceBackends(s, port, pods) });
    }
  }
  return out;
}

export interface ServiceStatusView {
  name: string;
  namespace: string;
  clusterIP: string;
  ports: string;
  selector: Record<string, string>;
  endpoints: number;
}

/** `mizzen get services` rows: VIP, ports, and how many ready pods back the Service. */
export function serviceStatusViews(services: readonly ServiceView[], pods: readonly EndpointPod[]): ServiceStatusView[] {
  const entries = serviceNatEntries(services, pods);
  return services.map((s) => ({
    name: s.name,
    namespace: s.namespace,
    clusterIP: s.vip || 'None',
    ports: (s.spec.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(','),
    selector: s.spec.selector ?? {},
    endpoints: new Set(entries.filter((e) => e.vip === s.vip).flatMap((e) => e.backends.map((b) => b.address))).size,
  }));
}
