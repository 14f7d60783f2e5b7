import type { ConnectionPoolSettings } from '../../api/istio/connection-pool.ts';
import type { ServerTLSSettings } from '../../api/istio/tls-settings.ts';
import type { PushContext } from '../push/push-context.ts';
import type { Service } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';

/** A port the proxy's workload serves: from the services that select it, or its Sidecar's `ingress`. */
export interface InboundPort {
  /** Workload (target) port: what the filter chain and `inbound|PORT||` are keyed by. */
  port: number;
  servicePort: number;
  protocol: string;
  /** Names the chain's operation and the cluster's `istio.services` metadata. */
  service: Pick<Service, 'hostname' | 'name' | 'namespace'>;
  /** Sidecar ingress `defaultEndpoint` (`127.0.0.1:8080`, `0.0.0.0:8080`...); else the original destination. */
  defaultEndpoint?: string;
  /** Sidecar ingress `connectionPool`, else the Sidecar's `inboundConnectionPool`. */
  connectionPool?: ConnectionPoolSettings;
  /** Sidecar ingress `bind` (captureMode NONE without one: the workload's IP, as istiod): names the chains `BIND_PORT`. */
  bind?: string;
  /** Sidecar ingress `captureMode: NONE`: a listener of its own bound on `bind`:PORT, not a chain of virtualInbound. */
  bindToPort?: boolean;
  /** Sidecar ingress `tls` (with ENABLE_TLS_ON_SIDECAR_INGRESS): terminated on the port when its mesh mTLS is DISABLE. */
  tls?: ServerTLSSettings;
}

/**
 * The workload ports behind this proxy. With a Sidecar that has `ingress` listeners, as istiod:
 * exactly those ports (first listener per port number), each named after the service whose
 * workload port it is, else after the Sidecar (`NAME.NAMESPACE`). Otherwise every endpoint whose
 * address is one of the proxy's IPs (Kubernetes services only from the proxy's namespace),
 * deduplicated by workload port, first service by hostname winning; indexed by address once per push.
 */
export function inboundPorts(proxy: ProxyInfo, push: PushContext): InboundPort[] {
  const index = push.cached('inbound-ports-by-address', () => indexByAddress(push));
  const byPort = new Map<number, ServiceTargetPort>();
  for (const ip of proxy.ipAddresses) {
    for (const p of index.get(ip) ?? []) {
      if (p.service.namespace !== proxy.namespace && p.service.registry === 'Kubernetes') continue;
      if (!byPort.has(p.port)) byPort.set(p.port, p);
    }
  }
  const sidecar = proxy.type === 'sidecar' ? push.sidecarFor(proxy) : undefined;
  const pool = sidecar?.spec.inboundConnectionPool;
  const ingress = sidecar?.spec.ingress ?? [];
  if (ingress.length === 0) {
    const ports = [...byPort.values()].sort((a, b) => a.port - b.port);
    return pool ? ports.map((p) => ({ ...p, connectionPool: pool })) : ports;
  }
  const out = new Map<number, InboundPort>();
  for (const l of ingress) {
    const n = l.port?.number ?? 0;
    if (n === 0 || out.has(n)) continue;
    const name = sidecar!.metadata.name;
    const namespace = sidecar!.metadata.namespace ?? proxy.namespace;
    const service = byPort.get(n)?.service ?? { hostname: `${name}.${namespace}`, name, namespace };
    const connectionPool = l.connectionPool ?? pool;
    const bindToPort = l.captureMode === 'NONE';
    const bind = l.bind || (bindToPort ? proxy.ipAddresses[0] ?? '0.0.0.0' : undefined);
    const tls = l.tls && push.mesh.enableTlsOnSidecarIngress ? l.tls : undefined;
    const declared = (l.port?.protocol ?? 'TCP').toUpperCase();
    out.set(n, {
      port: n,
      servicePort: n,
      // istiod's AfterTLSTermination: what is inside the user's TLS
      protocol: tls ? (declared === 'HTTPS' ? 'HTTP' : declared === 'TLS' ? 'TCP' : declared) : declared,
      ...(tls ? { tls } : {}),
      service,
      ...(l.defaultEndpoint ? { defaultEndpoint: l.defaultEndpoint } : {}),
      ...(connectionPool ? { connectionPool } : {}),
      ...(bind ? { bind } : {}),
      ...(bindToPort ? { bindToPort } : {}),
    });
  }
  return [...out.values()].sort((a, b) => a.port - b.port);
}

/** A workload port of a service, as the address index keeps it. */
interface ServiceTargetPort extends InboundPort {
  service: Service;
}

/**
 * Service port → the workload ports it forwards to, over the services that select this proxy
 * (istiod's ServiceTargets of the proxy): a gateway binds a server's port through this map.
 */
export function servicePortTargets(proxy: ProxyInfo, push: PushContext): Map<number, Set<number>> {
  const index = push.cached('inbound-ports-by-address', () => indexByAddress(push));
  const out = new Map<number, Set<number>>();
  for (const ip of proxy.ipAddresses) {
    for (const p of index.get(ip) ?? []) {
      if (p.service.namespace !== proxy.namespace && p.service.registry === 'Kubernetes') continue;
      const targets = out.get(p.servicePort) ?? new Set<number>();
      targets.add(p.port);
      out.set(p.servicePort, targets);
    }
  }
  return out;
}

function indexByAddress(push: PushContext): Map<string, ServiceTargetPort[]> {
  const index = new Map<string, ServiceTargetPort[]>();
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
