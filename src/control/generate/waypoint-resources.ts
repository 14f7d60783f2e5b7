import { isIP } from 'node:net';
import type { ConfigResource } from '../../api/config-resource.ts';
import type { WorkloadEntrySpec } from '../../api/istio/workload-entry.ts';
import { WaypointIndex, type Waypoint } from '../ambient/waypoints.ts';
import type { PushContext } from '../push/push-context.ts';
import type { PolicyTarget } from '../push/security-policy-index.ts';
import type { Service, ServicePort } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { podIP } from '../registry/pod-workload.ts';
import { hboneAt } from './hbone-endpoints.ts';
import { hcmTelemetry } from './telemetry-hcm.ts';
import { outboundClusterName, parseClusterName } from './cluster-names.ts';
import { EXT, typedFilter, type JsonObject } from './envoy-extensions.ts';
import { httpConnectionManagerFilter, listenerHcmSettings, tcpProxyFilter } from './http-connection-manager.ts';
import { buildHttpRoutes, defaultRoute } from './http-routes.ts';
import { localityLbEndpoints } from './load-assignment.ts';
import { outboundClusters, subsetEndpoints } from './outbound-clusters.ts';
import { policyFiltersOf } from './policy-filters.ts';
import { destinationHashPolicy } from './route-actions.ts';
import { carriesHttp } from './virtual-hosts.ts';
import { MESH_GATEWAY } from '../push/virtual-service-index.ts';

/**
 * What a waypoint receives (istiod's listener_waypoint.go / cluster_waypoint.go, in Mizzen's
 * shape): the internal listener `main_internal` — one filter chain per service bound to the
 * waypoint (and per service of its namespace, so binding changes lose no connection), per port, matched on the service's VIPs and port (HTTP ports: an HCM whose RDS is
 * `inbound-vip|PORT|http|HOST` with the service's VirtualService/HTTPRoute routes and the
 * authorization/authentication attached by targetRefs to the waypoint, its GatewayClass or the
 * Service; other ports: tcp_proxy). Clusters are the sidecar's `outbound|PORT|SUBSET|HOST`
 * (istiod names the waypoint's `inbound-vip|PORT|http/SUBSET|HOST`) without TLS sockets; their
 * endpoints that speak HBONE are `envoy_internal_address`es of `connect_originate`, which the
 * waypoint implements as an HBONE tunnel to the endpoint's ztunnel.
 */
export const MAIN_INTERNAL = 'main_internal';
/** istiod's cluster to `connect_originate` for the downstream's own destination. */
const ENCAP = 'encap';

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

export function waypointIndexOf(push: PushContext): WaypointIndex {
  return push.cached('waypoint-index', () => new WaypointIndex(push.config));
}

/** The waypoint a proxy is (its pods carry the Gateway's name), the services and the workload addresses bound to it. */
export function waypointOf(proxy: ProxyInfo, push: PushContext): { waypoint: Waypoint; services: Service[]; workloadIps: string[] } | undefined {
  const name = proxy.labels[GATEWAY_NAME_LABEL];
  if (!name) return undefined;
  return push.cached(`waypoint|${proxy.namespace}/${name}`, () => {
    const index = waypointIndexOf(push);
    const waypoint = index.get(proxy.namespace, name);
    if (!waypoint) return undefined;
    // Bound services, and every service of the waypoint's namespace: ztunnel and the waypoint get a
    // binding change in separate pushes, and a connection ztunnel sends in between must still find
    // its chain (istiod sends chains for bound services only, and such a connection fails there).
    const services = push.registry.services.filter((s) => s.addresses.length > 0 && (index.forService(s.namespace, s.labels) === waypoint || (s.namespace === waypoint.namespace && s.registry === 'Kubernetes' && !isWaypointService(s, index))));
    return { waypoint, services, workloadIps: workloadAddresses(push, index, waypoint) };
  });
}

/**
 * Addresses of the Pods and WorkloadEntries bound to the waypoint for workload-addressed traffic,
 * and (as for services) of every other pod in its namespace but its own: a binding change reaches
 * ztunnel and the waypoint in separate pushes.
 */
function workloadAddresses(push: PushContext, index: WaypointIndex, waypoint: Waypoint): string[] {
  const out = new Set<string>();
  for (const r of push.config.list('Pod')) {
    const ip = podIP(r);
    const ns = r.metadata.namespace ?? 'default';
    const labels = r.metadata.labels ?? {};
    if (!ip || labels[GATEWAY_NAME_LABEL] !== undefined) continue;
    if (index.forWorkload(ns, labels) === waypoint || (ns === waypoint.namespace && waypoint.trafficType !== 'service' && waypoint.trafficType !== 'none')) out.add(ip);
  }
  for (const r of push.config.list('WorkloadEntry') as readonly ConfigResource<WorkloadEntrySpec>[]) {
    const address = r.spec?.address ?? '';
    if (isIP(address) && index.forWorkload(r.metadata.namespace ?? 'default', r.metadata.labels ?? {}) === waypoint) out.add(address);
  }
  return [...out].sort();
}

function isWaypointService(s: Service, index: WaypointIndex): boolean {
  const name = s.labels[GATEWAY_NAME_LABEL];
  return name !== undefined && index.get(s.namespace, name) !== undefined;
}

export function routeConfigName(port: number, host: string): string {
  return `inbound-vip|${port}|http|${host}`;
}

function policyTargets(w: Waypoint, service: Service | undefined): PolicyTarget[] {
  const targets: PolicyTarget[] = [
    { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: w.namespace, name: w.name },
    { group: 'gateway.networking.k8s.io', kind: 'GatewayClass', namespace: '', name: w.gateway.spec?.gatewayClassName ?? 'istio-waypoint' },
  ];
  if (!service) return targets;
  if (service.registry === 'Kubernetes' && service.name) targets.push({ group: '', kind: 'Service', namespace: service.namespace, name: service.name });
  if (service.registry === 'ServiceEntry') targets.push({ group: 'networking.istio.io', kind: 'ServiceEntry', namespace: service.namespace, name: service.source.split('/').pop() ?? '' });
  return targets;
}

function chain(proxy: ProxyInfo, push: PushContext, w: Waypoint, service: Service, port: ServicePort): JsonObject {
  const http = carriesHttp(port.protocol);
  const targets = policyTargets(w, service);
  const filters = policyFiltersOf(push, push.authorizationPoliciesForTargets(targets), push.requestAuthenticationsForTargets(targets));
  const name = `inbound-vip|${port.port}|${http ? 'http' : 'tcp'}|${service.hostname}`;
  const prefixRanges = service.addresses.filter((a) => !a.includes('/')).map((a) => ({ addressPrefix: a, prefixLen: a.includes(':') ? 128 : 32 }));
  const terminal = http
    ? httpConnectionManagerFilter({ statPrefix: name, rds: routeConfigName(port.port, service.hostname), preFilters: filters.http, inbound: true, ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'inbound') })
    : tcpProxyFilter(name, outboundClusterName(port.port, undefined, service.hostname));
  return { name, filterChainMatch: { prefixRanges, destinationPort: port.port }, filters: [...(http ? [] : filters.tcp), terminal] };
}

/**
 * Workload-addressed traffic (istiod's "direct pod access" chains): on the bound workloads'
 * addresses, sniffed HTTP gets an HCM with the policies attached to the waypoint (or its class)
 * and one route to `encap`; anything else a tcp_proxy to `encap` — the destination itself over
 * HBONE through `connect_originate`.
 */
function directChains(proxy: ProxyInfo, push: PushContext, w: Waypoint, ips: readonly string[]): JsonObject[] {
  if (ips.length === 0) return [];
  const targets = policyTargets(w, undefined);
  const filters = policyFiltersOf(push, push.authorizationPoliciesForTargets(targets), push.requestAuthenticationsForTargets(targets));
  const prefixRanges = ips.map((a) => ({ addressPrefix: a, prefixLen: a.includes(':') ? 128 : 32 }));
  const routeConfig = { name: ENCAP, virtualHosts: [{ name: 'inbound|http|0', domains: ['*'], routes: [defaultRoute(ENCAP, false)] }], validateClusters: false };
  return [
    { name: 'direct-http', filterChainMatch: { prefixRanges, applicationProtocols: ['http/1.1', 'h2c'] }, filters: [httpConnectionManagerFilter({ statPrefix: 'direct-http', routeConfig, preFilters: filters.http, inbound: true, ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'inbound') })] },
    { name: 'direct-tcp', filterChainMatch: { prefixRanges }, filters: [...filters.tcp, tcpProxyFilter('direct-tcp', ENCAP)] },
  ];
}

/** LDS: `main_internal`. */
export function waypointListeners(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const scope = waypointOf(proxy, push);
  const filterChains: JsonObject[] = [];
  for (const s of scope?.services ?? []) for (const p of s.ports) filterChains.push(chain(proxy, push, scope!.waypoint, s, p));
  const direct = scope ? directChains(proxy, push, scope.waypoint, scope.workloadIps) : [];
  filterChains.push(...direct);
  // As istiod: with workloads bound, any port may carry HTTP, so http_inspector runs on all of them.
  const listenerFilters = direct.length > 0 ? { listenerFilters: [typedFilter(EXT.httpInspector)] } : {};
  return [{ name: MAIN_INTERNAL, internalListener: {}, ...listenerFilters, trafficDirection: 'INBOUND', filterChains }];
}

/** RDS: one route config per bound service's HTTP port. */
export function waypointRouteConfigs(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const out: JsonObject[] = [];
  for (const service of waypointOf(proxy, push)?.services ?? []) {
    for (const port of service.ports) {
      if (!carriesHttp(port.protocol)) continue;
      const vs = push.virtualServiceForHost(proxy, service.hostname);
      const ctx = (ns: string) => ({ push, proxy, gateway: MESH_GATEWAY, port: port.port, proxyLabels: proxy.labels, proxyNamespace: proxy.namespace, vsNamespace: ns, grpc: false });
      const routes = vs ? buildHttpRoutes(vs.http, ctx(vs.namespace), vs) : [defaultRoute(outboundClusterName(port.port, undefined, service.hostname), false, destinationHashPolicy({ host: service.hostname }, ctx(service.namespace)))];
      out.push({
        name: routeConfigName(port.port, service.hostname),
        virtualHosts: [{ name: `${service.hostname}:${port.port}`, domains: ['*'], routes: routes.length > 0 ? routes : [{ name: 'no-route', match: { prefix: '/' }, directResponse: { status: 404 } }], includeRequestAttemptCount: true }],
        validateClusters: false,
      });
    }
  }
  return out;
}

/** CDS: the sidecar's outbound clusters, without TLS sockets, and `encap` (the downstream's destination through `connect_originate`). */
export function waypointClusters(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  return [...outboundClusters(proxy, push, { grpc: false, waypoint: true }), ENCAP_CLUSTER];
}

const ENCAP_CLUSTER: JsonObject = {
  name: ENCAP,
  type: 'STATIC',
  connectTimeout: '10s',
  loadAssignment: { clusterName: ENCAP, endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: 'connect_originate' } } } }] }] },
};

/** EDS for a waypoint's cluster: HBONE endpoints as internal addresses of connect_originate. */
export function waypointLoadAssignment(proxy: ProxyInfo, push: PushContext, clusterName: string): JsonObject | undefined {
  const parsed = parseClusterName(clusterName);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const service = push.serviceFor(proxy, parsed.host);
  if (!service || !service.ports.some((p) => p.port === parsed.port)) return undefined;
  let labels: Readonly<Record<string, string>> | undefined;
  if (parsed.subset) {
    const subset = push.destinationRuleFor(proxy, service)?.spec.subsets?.find((s) => s.name === parsed.subset);
    if (!subset) return { clusterName, endpoints: [] };
    labels = subset.labels ?? {};
  }
  const hbone = hboneAt(push);
  return push.cached(`eds-wp|${service.namespace}|${clusterName}|${JSON.stringify(labels ?? {})}`, () => ({
    clusterName,
    endpoints: localityLbEndpoints(subsetEndpoints(push, service, parsed.port, labels), { grpc: false, hbone }),
  }));
}

/** EDS names of a waypoint (wildcard requests). */
export function waypointEdsNames(proxy: ProxyInfo, push: PushContext): string[] {
  return waypointClusters(proxy, push).filter((c) => c.type === 'EDS').map((c) => c.name as string);
}
