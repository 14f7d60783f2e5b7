import type { AppProtocol, LoadBalancing, ServiceResource } from '../../api/workload/workload-types.ts';
import { ipToBase64 } from '../../api/workload/workload-types.ts';
import type { Protocol, Service } from '../registry/service.ts';

/**
 * A registry Service (Kubernetes Service or a ServiceEntry host) as `istio.workload.Service`
 * (istiod's constructService / constructServiceEntries): resource name `NS/HOSTNAME`, VIPs as
 * network addresses, ports with their numeric target port (0 for a named one: resolved per
 * workload) and application protocol, load balancing from the traffic distribution setting.
 */
export function serviceKey(s: Pick<Service, 'namespace' | 'hostname'>): string {
  return `${s.namespace}/${s.hostname}`;
}

/** Istio's toAppProtocolFromProtocol. */
export function appProtocol(p: Protocol): AppProtocol {
  switch (p) {
    case 'HTTP':
      return 'HTTP11';
    case 'HTTP2':
      return 'HTTP2';
    case 'GRPC':
      return 'GRPC';
    case 'TLS':
    case 'HTTPS':
      return 'TLS';
    case 'TCP':
      return 'TCP';
    default:
      return 'UNKNOWN';
  }
}

/** The resource's own name: the Kubernetes Service name, or the ServiceEntry's. */
function sourceName(s: Service): string {
  if (s.name) return s.name;
  const parts = s.source.split('/');
  return parts[parts.length - 1] ?? s.hostname;
}

export interface ServiceResourceOptions {
  /** `trafficDistribution` / `networking.istio.io/traffic-distribution` in force (PreferClose, PreferSameZone, PreferSameNode). */
  trafficDistribution?: string;
  /** Addresses allocated by the control plane for a ServiceEntry without addresses. */
  allocatedAddresses?: readonly string[];
  network?: string;
}

function loadBalancing(distribution: string | undefined): LoadBalancing | undefined {
  switch (distribution?.toLowerCase() === 'preferclose' ? 'PreferClose' : distribution?.toLowerCase() === 'prefersamezone' ? 'PreferSameZone' : distribution?.toLowerCase() === 'prefersamenode' ? 'PreferSameNode' : distribution) {
    case 'PreferClose':
    case 'PreferSameZone':
      return { routingPreference: ['NETWORK', 'REGION', 'ZONE'], mode: 'FAILOVER' };
    case 'PreferSameNode':
      return { routingPreference: ['NETWORK', 'REGION', 'ZONE', 'SUBZONE', 'NODE'], mode: 'FAILOVER' };
    default:
      return undefined;
  }
}

export function serviceResource(s: Service, options: ServiceResourceOptions = {}): ServiceResource {
  const addresses = s.addresses.length > 0 ? s.addresses : (options.allocatedAddresses ?? []);
  const out: ServiceResource = {
    name: sourceName(s),
    namespace: s.namespace,
    hostname: s.hostname,
    addresses: addresses.filter((a) => !a.includes('/')).map((a) => ({ network: options.network ?? '', address: ipToBase64(a) })),
    ports: s.ports.map((p) => ({ servicePort: p.port, targetPort: typeof p.targetPort === 'number' ? p.targetPort : 0, appProtocol: appProtocol(p.protocol) })),
  };
  if (s.subjectAltNames && s.subjectAltNames.length > 0) out.subjectAltNames = [...s.subjectAltNames];
  const lb = loadBalancing(options.trafficDistribution);
  if (lb) out.loadBalancing = lb;
  return out;
}
