import type { PushContext } from '../push/push-context.ts';
import type { Service } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';

/** A port the proxy's workload serves, from the services that select it. */
export interface InboundPort {
  /** Workload (target) port: what the filter chain and `inbound|PORT||` are keyed by. */
  port: number;
  servicePort: number;
  protocol: string;
  service: Service;
}

/**
 * The workload ports behind this proxy: every endpoint of a visible service whose address is one
 * of the proxy's IPs, deduplicated by workload port (first service by hostname wins).
 */
export function inboundPorts(proxy: ProxyInfo, push: PushContext): InboundPort[] {
  const ips = new Set(proxy.ipAddresses);
  const byPort = new Map<number, InboundPort>();
  const services = [...push.registry.services].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  for (const service of services) {
    if (service.namespace !== proxy.namespace && service.registry === 'Kubernetes') continue;
    for (const sp of service.ports) {
      for (const e of push.registry.endpoints(service.hostname, sp.port, service.namespace)) {
        if (!ips.has(e.address) || byPort.has(e.port)) continue;
        byPort.set(e.port, { port: e.port, servicePort: sp.port, protocol: sp.protocol, service });
      }
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}
