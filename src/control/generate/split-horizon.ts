import type { PushContext } from '../push/push-context.ts';
import type { Endpoint } from '../registry/service.ts';
import { NETWORK_LABEL } from '../registry/workload-labels.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { LocalityGroup } from './locality-lb.ts';
import { endpointNetworks, networkGateways, proxyNetwork, requestedNetworkView, type NetworkGateway } from './network-gateways.ts';

/**
 * What split-horizon EDS depends on for a proxy: '' when the mesh has no network gateway (every
 * endpoint is sent as it is), else its network and requested view. Part of every EDS cache key.
 */
export function splitHorizonKey(proxy: ProxyInfo, push: PushContext): string {
  if (networkGateways(push).size === 0) return '';
  const view = requestedNetworkView(proxy);
  return `net=${proxyNetwork(proxy, push)}|${view ? [...view].sort().join(',') : '*'}`;
}

/**
 * istiod's split-horizon EDS (EndpointsByNetworkFilter), applied before locality load balancing:
 * once some network has a gateway, a proxy gets the endpoints of its own network (an endpoint
 * without a label is on the cluster's or its MeshNetworks `fromCidr` one, endpointNetworks; ''
 * matches every network), or of a network
 * without a gateway, directly, and in place of each other network's endpoints
 * that gateway (address and port, mTLS as `tlsMode: istio`), weighted by the endpoints it stands
 * for. Remote endpoints without mesh mTLS (or not ready) are dropped: the gateway routes by the mTLS SNI. A
 * proxy with `REQUESTED_NETWORK_VIEW` sees only those networks' endpoints. Weights are scaled by
 * the least common multiple of the gateway counts, so one endpoint's weight splits evenly over
 * its network's gateways. Localities left without endpoints are dropped.
 */
export function splitHorizon(groups: readonly LocalityGroup[], proxy: ProxyInfo, push: PushContext): LocalityGroup[] {
  const gateways = networkGateways(push);
  if (gateways.size === 0) return [...groups];
  const own = proxyNetwork(proxy, push);
  const networkOf = endpointNetworks(push);
  const view = requestedNetworkView(proxy);
  const scale = [...gateways.values()].reduce((m, list) => lcm(m, list.length), 1);
  const out: LocalityGroup[] = [];
  for (const g of groups) {
    const endpoints: Endpoint[] = [];
    const viaGateway = new Map<NetworkGateway, { weight: number; sample: Endpoint }>();
    for (const e of g.endpoints) {
      const network = networkOf(e);
      if (view && !view.has(network)) continue;
      const weight = Math.min((e.weight ?? 1) * scale, 0xffffffff);
      const remote = gateways.get(network) ?? [];
      if (network === '' || own === '' || network === own || remote.length === 0) {
        endpoints.push(weight === (e.weight ?? 1) ? e : { ...e, weight });
        continue;
      }
      // gateways stand only for endpoints that can take the traffic (istiod sends no unhealthy ones)
      if (e.tlsMode !== 'istio' || !e.healthy) continue;
      const share = Math.floor(weight / remote.length);
      for (const gw of remote) {
        const seen = viaGateway.get(gw);
        if (seen) seen.weight += share;
        else viaGateway.set(gw, { weight: share, sample: e });
      }
    }
    for (const [gw, { weight, sample }] of viaGateway) endpoints.push(gatewayEndpoint(gw, sample, Math.max(weight, 1)));
    if (endpoints.length === 0) continue;
    out.push({ ...g, endpoints, weight: endpoints.reduce((s, e) => s + (e.weight ?? 1), 0) });
  }
  return out;
}

/** The endpoint standing for a remote network's endpoints: its gateway, with mesh mTLS and no workload. */
function gatewayEndpoint(gw: NetworkGateway, sample: Endpoint, weight: number): Endpoint {
  return {
    hostname: sample.hostname,
    namespace: '',
    servicePort: sample.servicePort,
    servicePortName: sample.servicePortName,
    address: gw.address,
    port: gw.port,
    labels: { [NETWORK_LABEL]: gw.network },
    weight,
    healthy: true,
    tlsMode: 'istio',
    workloadName: '',
    network: gw.network,
  };
}

function lcm(a: number, b: number): number {
  if (b === 0) return a;
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}
