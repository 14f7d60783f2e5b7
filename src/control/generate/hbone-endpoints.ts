import { ipToBase64 } from '../../api/workload/workload-types.ts';
import { ingressUsesWaypoint, WaypointIndex, type Waypoint } from '../ambient/waypoints.ts';
import type { PushContext } from '../push/push-context.ts';
import { podIP, podReady } from '../registry/pod-workload.ts';
import type { Service } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { ambientIndexOf } from './ambient-index-of.ts';
import type { JsonObject } from './envoy-extensions.ts';

/**
 * Which endpoints a proxy reaches over HBONE (istiod's EndpointBuilder tunnel support): a
 * waypoint always; a sidecar or gateway when it says it can (`ISTIO_META_ENABLE_HBONE=true`, as
 * Istio's ambient profile sets for every proxy) — never proxyless gRPC or ztunnel. Those
 * endpoints are ambient-captured (or native HBONE) workloads; discovery sends them as
 * `envoy_internal_address`es of `connect_originate`.
 */
export function sendsHbone(proxy: ProxyInfo): boolean {
  if (proxy.type === 'waypoint') return true;
  if (proxy.type === 'ztunnel' || proxy.generator === 'grpc') return false;
  return String(proxy.metadata.ENABLE_HBONE ?? '').toLowerCase() === 'true';
}

/**
 * What a sidecar or gateway tunnels to: ambient-captured workloads and waypoints, not other
 * sidecars. Istio sends HBONE between two sidecars that both run with ENABLE_HBONE (the injector
 * labels such pods `networking.istio.io/tunnel: http`); Mizzen keeps sidecar-to-sidecar traffic on
 * Istio mTLS with metadata exchange (its telemetry needs the peer's metadata, which Mizzen's
 * sidecars do not get over HBONE yet), while ztunnel and waypoints do reach sidecars over HBONE.
 */
export function proxyHboneAt(push: PushContext): (address: string) => boolean {
  return push.cached('hbone-at-proxy', () => {
    const all = hboneAt(push);
    const sidecars = new Set<string>();
    for (const r of push.config.list('Pod')) {
      const ip = podIP(r);
      if (ip && r.metadata.annotations?.['sidecar.istio.io/status'] !== undefined) sidecars.add(ip);
    }
    return (address: string) => all(address) && !sidecars.has(address);
  });
}

/** Does the workload at this address take HBONE (ambient-captured, or a native HBONE speaker)? */
export function hboneAt(push: PushContext): (address: string) => boolean {
  return push.cached('hbone-at', () => {
    const index = ambientIndexOf(push);
    return (address: string) => index.lookup(`/${address}`).some((a) => a.resource.workload?.tunnelProtocol === 'HBONE' && (a.resource.workload.addresses ?? []).includes(ipToBase64(address)));
  });
}

/**
 * An ingress gateway's endpoints for a service bound to a waypoint with `ingress-use-waypoint`
 * (istiod: the gateway sends to the waypoint, not to the endpoints, so the waypoint's L7 policy
 * holds for ingress traffic too): one `connect_originate` endpoint per ready waypoint pod, its
 * endpoint_id the service's VIP and port (the waypoint's CONNECT target), its `tunnel` metadata
 * the pod's HBONE address. Undefined when the gateway goes to the endpoints as usual.
 */
export function ingressWaypointEndpoints(proxy: ProxyInfo, push: PushContext, service: Service, port: number): JsonObject[] | undefined {
  if (proxy.type !== 'router' || service.addresses.length === 0 || !ingressUsesWaypoint(push.config, service.namespace, service.labels)) return undefined;
  const waypoint = push.cached('waypoint-index', () => new WaypointIndex(push.config)).forService(service.namespace, service.labels);
  if (!waypoint) return undefined;
  const vip = service.addresses.find((a) => !a.includes('/'))!;
  const target = vip.includes(':') ? `[${vip}]:${port}` : `${vip}:${port}`;
  const lbEndpoints = waypointPodIps(push, waypoint).map((ip) => ({
    endpoint: { address: { envoyInternalAddress: { serverListenerName: 'connect_originate', endpointId: target } } },
    healthStatus: 'HEALTHY',
    loadBalancingWeight: 1,
    metadata: { filterMetadata: { tunnel: { address: ip.includes(':') ? `[${ip}]:15008` : `${ip}:15008`, destination: target } } },
  }));
  return lbEndpoints.length > 0 ? [{ locality: {}, lbEndpoints, loadBalancingWeight: lbEndpoints.length }] : [];
}

function waypointPodIps(push: PushContext, w: Waypoint): string[] {
  const out: string[] = [];
  for (const r of push.config.list('Pod')) {
    if ((r.metadata.namespace ?? 'default') !== w.namespace || r.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] !== w.name) continue;
    const ip = podIP(r);
    if (ip && podReady(r) && r.metadata.deletionTimestamp === undefined) out.push(ip);
  }
  return out.sort();
}
