import type { PushContext } from '../push/push-context.ts';
import type { Service } from '../registry/service.ts';
import { MESH_GATEWAY } from '../push/virtual-service-index.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { PASSTHROUGH_CLUSTER, outboundClusterName } from './cluster-names.ts';
import type { JsonObject } from './envoy-extensions.ts';
import { buildHttpRoutes, defaultRoute } from './http-routes.ts';
import { destinationHashPolicy } from './route-actions.ts';

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-Web']);

export function isHttpProtocol(protocol: string): boolean {
  return HTTP_PROTOCOLS.has(protocol);
}

/** Undeclared protocol: the proxy sniffs, so HTTP on it is routed like HTTP (as Istio does). */
export function isSniffed(protocol: string): boolean {
  return protocol === 'UNSUPPORTED';
}

/** Does traffic on this port get HTTP routes (declared HTTP, or sniffed)? */
export function carriesHttp(protocol: string): boolean {
  return isHttpProtocol(protocol) || isSniffed(protocol);
}

/**
 * Istio's domain aliases for a service seen from a proxy: the FQDN, every shorter name the
 * proxy's DNS search path resolves (`name` in the same namespace, `name.ns`, `name.ns.svc`), the
 * VIPs — each also with `:PORT` unless `port` is undefined (sidecar route configs set
 * `ignore_port_in_host_matching` instead, as Istio does for every proxy but proxyless gRPC).
 */
export function domainAliases(hostname: string, addresses: readonly string[], port: number | undefined, proxyDnsDomain: string): string[] {
  // The FQDN also with its trailing dot (an absolute name in the Host header), as istiod lists it.
  const names = hostname.includes('.') && !hostname.startsWith('*') && port === undefined ? [hostname, `${hostname}.`] : [hostname];
  const domainParts = proxyDnsDomain.split('.');
  // Strip suffixes the proxy's search path adds: for `ns.svc.cluster.local` these are
  // `ns.svc.cluster.local` (same namespace), `svc.cluster.local`, `cluster.local`.
  for (let i = 0; i < domainParts.length - 1; i++) {
    const suffix = '.' + domainParts.slice(i).join('.');
    if (hostname.endsWith(suffix) && hostname.length > suffix.length) {
      const alias = hostname.slice(0, -suffix.length);
      if (!names.includes(alias)) names.push(alias);
    }
  }
  const out: string[] = [];
  for (const n of [...names, ...addresses]) {
    if (port === undefined) out.push(n);
    else out.push(n, `${n}:${port}`);
  }
  return out;
}

/**
 * Outbound virtual hosts of a sidecar's route config for one port. Domains carry no `:PORT`
 * variants: the route config sets `ignorePortInHostMatching` (Istio does the same for every
 * proxy but proxyless gRPC; it halves the domain lists that every proxy receives on each RDS push).
 */
export function outboundVirtualHosts(proxy: ProxyInfo, push: PushContext, port: number): JsonObject[] {
  const vsList = push.virtualServicesFor(proxy, MESH_GATEWAY);
  const seenDomains = new Set<string>();
  const out: JsonObject[] = [];
  const hostsWithService = new Set<string>();
  for (const service of push.servicesVisibleTo(proxy)) {
    const sp = service.ports.find((p) => p.port === port);
    if (!sp || !carriesHttp(sp.protocol)) continue;
    if (hostsWithService.has(service.hostname)) continue;
    hostsWithService.add(service.hostname);
    const vh = virtualHost(`${service.hostname}:${port}`, domainAliases(service.hostname, service.addresses, undefined, proxy.dnsDomain), serviceRoutes(proxy, push, service, port), seenDomains);
    if (vh) out.push(vh);
  }
  // VirtualService hosts with no service on this port (external names, or services without it),
  // as istiod: on this port when another host of the same VirtualService is served here, else
  // only on port 80 (istiod's fallback; routes without a destination port then use 80).
  const onPort = new Set<string>();
  for (const s of push.servicesVisibleTo(proxy)) if (s.ports.some((p) => p.port === port)) onPort.add(s.hostname);
  for (const vs of vsList) {
    const hosts = vs.hosts.filter((h) => !h.includes('*') && !onPort.has(h));
    if (hosts.length === 0) continue;
    if (port !== 80 && !vs.hosts.some((h) => hostsWithService.has(h))) continue;
    for (const host of hosts) {
      const vh = virtualHost(`${host}:${port}`, [host], buildHttpRoutes(vs.http, routeCtx(proxy, push, port, vs.namespace), vs), seenDomains);
      if (vh) out.push(vh);
    }
  }
  const registryOnly = (push.sidecarFor(proxy)?.spec.outboundTrafficPolicy?.mode ?? push.mesh.outboundTrafficPolicy?.mode) === 'REGISTRY_ONLY';
  out.push(
    registryOnly
      ? { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }] }
      : { name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: '0s', maxGrpcTimeout: '0s' } }], includeRequestAttemptCount: true },
  );
  return out;
}

/**
 * The route config of a sniffed port bound to a service's VIP (`HOST:PORT`, as istiod names it):
 * whatever reaches that VIP and port is the service's, so its one virtual host matches any Host.
 */
export function sniffedServiceVirtualHosts(proxy: ProxyInfo, push: PushContext, service: Service, port: number): JsonObject[] {
  return [virtualHost(sniffedRouteName(service.hostname, port), ['*'], serviceRoutes(proxy, push, service, port), new Set())!];
}

/** istiod's RDS name for a sniffed port on a service's own address. */
export function sniffedRouteName(hostname: string, port: number): string {
  return `${hostname}:${port}`;
}

/** A service port's routes: its VirtualService's, else the default route to its cluster; with decorators. */
function serviceRoutes(proxy: ProxyInfo, push: PushContext, service: Service, port: number): JsonObject[] {
  const vs = push.virtualServiceForHost(proxy, service.hostname);
  const routes = vs
    ? buildHttpRoutes(vs.http, routeCtx(proxy, push, port, vs.namespace), vs)
    : [defaultRoute(outboundClusterName(port, undefined, service.hostname), false, destinationHashPolicy({ host: service.hostname }, routeCtx(proxy, push, port, service.namespace)))];
  return routes.map((r) => withDecorator(r, `${service.hostname}:${port}/*`));
}

/** Tracing's operation name for a route (istiod's decorator): `HOST:PORT/*` of the service. */
function withDecorator(route: JsonObject, operation: string): JsonObject {
  return route.decorator || route.directResponse || route.redirect ? route : { ...route, decorator: { operation } };
}

function routeCtx(proxy: ProxyInfo, push: PushContext, port: number, vsNamespace: string) {
  return { push, proxy, gateway: MESH_GATEWAY, port, proxyLabels: proxy.labels, proxyNamespace: proxy.namespace, vsNamespace, grpc: false };
}

/** A virtual host, with domains already used by an earlier one removed (Envoy rejects duplicates). */
export function virtualHost(name: string, domains: string[], routes: JsonObject[], seen: Set<string>): JsonObject | undefined {
  const fresh = domains.filter((d) => !seen.has(d));
  if (fresh.length === 0) return undefined;
  for (const d of fresh) seen.add(d);
  return { name, domains: fresh, routes: routes.length > 0 ? routes : [{ name: 'no-route', match: { prefix: '/' }, directResponse: { status: 404 } }], includeRequestAttemptCount: true };
}

