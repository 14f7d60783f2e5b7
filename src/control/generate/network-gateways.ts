import type { ConfigResource } from '../../api/config-resource.ts';
import type { PushContext } from '../push/push-context.ts';
import type { Endpoint } from '../registry/service.ts';
import { inIpv4Cidr, meshNetworks } from './mesh-networks-config.ts';
import { NETWORK_LABEL } from '../registry/workload-labels.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';

/** Istio's label on a gateway Service naming the port its network's traffic enters on. */
export const GATEWAY_PORT_LABEL = 'networking.istio.io/gatewayPort';
/** The port of an east-west gateway when its Service does not say (Istio's AUTO_PASSTHROUGH 15443). */
export const DEFAULT_GATEWAY_PORT = 15443;

/** Where another network's traffic for this network enters: a gateway address and port. */
export interface NetworkGateway {
  network: string;
  address: string;
  port: number;
}

/**
 * The network gateways of a push, by network, as istiod's NetworkManager finds them on
 * Kubernetes: every Service labelled `topology.istio.io/network` is a gateway of that network
 * at each of its external addresses (load balancer ingress IPs, `externalIPs`), on the port its
 * `networking.istio.io/gatewayPort` label names, else 15443. Host names (a cloud LB's DNS name)
 * are skipped, as istiod skips gateways whose address is not an IP. MeshNetworks `gateways` add
 * theirs (an `address`, or the external addresses of the `registryServiceName` Service). Sorted
 * (address, port).
 */
export function networkGateways(push: PushContext): ReadonlyMap<string, readonly NetworkGateway[]> {
  return push.cached('network-gateways', () => {
    const out = new Map<string, NetworkGateway[]>();
    for (const s of push.config.list('Service')) {
      if (s.group !== '') continue;
      const network = s.metadata.labels?.[NETWORK_LABEL];
      if (!network) continue;
      const port = gatewayPort(s);
      for (const address of externalAddresses(s)) {
        const list = out.get(network) ?? [];
        if (!list.some((g) => g.address === address && g.port === port)) list.push({ network, address, port });
        out.set(network, list);
      }
    }
    // MeshNetworks gateways: an address, or a registry service's external addresses
    for (const [network, spec] of meshNetworks(push)) {
      for (const g of spec.gateways) {
        const addresses = g.address !== undefined ? [g.address].filter(isIp) : serviceByHost(push, g.registryServiceName ?? '').flatMap(externalAddresses);
        for (const address of addresses) {
          const list = out.get(network) ?? [];
          if (!list.some((x) => x.address === address && x.port === g.port)) list.push({ network, address, port: g.port });
          out.set(network, list);
        }
      }
    }
    for (const list of out.values()) list.sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
    return out;
  });
}

function gatewayPort(s: ConfigResource): number {
  const n = Number(s.metadata.labels?.[GATEWAY_PORT_LABEL]);
  return Number.isInteger(n) && n > 0 && n <= 65535 ? n : DEFAULT_GATEWAY_PORT;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function isIp(a: unknown): a is string {
  return typeof a === 'string' && (IPV4.test(a) || a.includes(':'));
}

function externalAddresses(s: ConfigResource): string[] {
  const status = (s.raw.status ?? {}) as { loadBalancer?: { ingress?: { ip?: string }[] } };
  const spec = s.spec as { externalIPs?: string[] };
  return [...(status.loadBalancer?.ingress ?? []).map((i) => i.ip), ...(spec.externalIPs ?? [])].filter(isIp);
}

/** The Kubernetes Service of a `NAME.NS.svc.DOMAIN` hostname (MeshNetworks `registryServiceName`). */
function serviceByHost(push: PushContext, host: string): ConfigResource[] {
  const [name, ns] = host.split('.');
  if (!name || !ns || !host.startsWith(`${name}.${ns}.svc.`)) return [];
  const s = push.config.get('Service', ns, name);
  return s && s.group === '' ? [s] : [];
}

/**
 * The network of an endpoint, as istiod's Kubernetes registry gives it: the workload's own
 * label, else the cluster's network (istio-system's label, else the MeshNetworks network whose
 * `fromRegistry` names this cluster, `Kubernetes`), else the MeshNetworks network whose
 * `fromCidr` holds its address; '' when none.
 */
export function endpointNetworks(push: PushContext): (e: Pick<Endpoint, 'network' | 'address'>) => string {
  return push.cached('endpoint-networks', () => {
    const cluster = systemNetwork(push);
    const cidrs = [...meshNetworks(push)].flatMap(([network, spec]) => spec.fromCidr.map((cidr) => ({ network, cidr })));
    return (e: Pick<Endpoint, 'network' | 'address'>) => e.network || cluster || cidrs.find((c) => inIpv4Cidr(e.address, c.cidr))?.network || '';
  });
}

/**
 * The proxy's network, as istiod's model.Proxy metadata: `NETWORK` (the injector sets
 * ISTIO_META_NETWORK from the pod's `topology.istio.io/network` label), else that label among
 * the proxy's own labels, else the cluster's network (systemNetwork).
 */
export function proxyNetwork(proxy: ProxyInfo, push: PushContext): string {
  const meta = proxy.metadata.NETWORK;
  if (typeof meta === 'string' && meta !== '') return meta;
  return proxy.labels[NETWORK_LABEL] ?? systemNetwork(push);
}

/**
 * The cluster's network: the `topology.istio.io/network` label of istiod's namespace (the root
 * namespace here), else the MeshNetworks network whose `fromRegistry` is this cluster; istiod
 * gives it to every endpoint of the cluster whose pod names none. '' when none (the default network).
 */
export function systemNetwork(push: PushContext): string {
  return push.cached('system-network', () => {
    const label = push.config.get('Namespace', undefined, push.mesh.rootNamespace)?.metadata.labels?.[NETWORK_LABEL];
    if (label) return label;
    for (const [network, spec] of meshNetworks(push)) if (spec.fromRegistry.includes(CLUSTER_ID)) return network;
    return '';
  });
}

/** The one cluster (registry) a Mizzen control plane knows, Istio's default CLUSTER_ID. */
const CLUSTER_ID = 'Kubernetes';

/**
 * The networks whose endpoints the proxy asked to see (`REQUESTED_NETWORK_VIEW`, comma
 * separated, as Istio's east-west gateways set to their own network), undefined when it did not
 * ask (every network is visible). Endpoints without a network are always visible.
 */
export function requestedNetworkView(proxy: ProxyInfo): ReadonlySet<string> | undefined {
  const v = proxy.metadata.REQUESTED_NETWORK_VIEW;
  const list = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : [];
  const names = list.map((s) => s.trim()).filter((s) => s !== '');
  return names.length > 0 ? new Set(['', ...names]) : undefined;
}
