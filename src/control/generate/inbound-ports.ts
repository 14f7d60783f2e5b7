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
 * The workload ports behind this proxy: every endpoint whose address is one of the proxy's IPs
 * (Kubernetes services only from the proxy's namespace), deduplicated by workload port, first
 * service by hostname winning. Indexed by address once per push.
 */
export function inboundPorts(proxy: ProxyInfo, push: PushContext): InboundPort[] {
  const index = push.cached('inbound-ports-by-address', () => indexByAddress(push));
  const byPort = new Map<number, InboundPort>();
  for (const ip of proxy.ipAddresses) {
    for (const p of index.get(ip) ?? []) {
      if (p.service.namespace !== proxy.namespace && p.service.registry === 'Kubernetes') continue;
      if (!byPort.has(p.port)) byPort.set(p.port, p);
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

function indexByAddress(push: PushContext): Map<string, InboundPort[]> {
  const index = new Map<string, InboundPort[]>();
  const services = [...push.registry.services].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  for (const service of services) {
    for (const sp of service.ports) {
      for (const e of push.registry.endpoints(service.hostname, sp.port, service.namespace)) {
        const list = index.get(e.address) ?? [];
        list.push({ port: e.port, servicePort: sp.port, protocol: sp.protocol, service });
        index.set(e.address, list);
      }
    }
  }
  return index;
}
