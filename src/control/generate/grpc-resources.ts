import type { PushContext } from '../push/push-context.ts';
import { MESH_GATEWAY } from '../push/virtual-service-index.ts';
import type { Service } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { outboundClusterName } from './cluster-names.ts';
import type { JsonObject } from './envoy-extensions.ts';
import { httpConnectionManagerConfig } from './http-connection-manager.ts';
import { buildHttpRoutes, defaultRoute } from './http-routes.ts';
import { domainAliases } from './virtual-hosts.ts';

/** A `HOST:PORT` target a proxyless client asked for, resolved to a service port. */
export interface GrpcTarget {
  /** The name exactly as requested (listener and route config name). */
  name: string;
  service: Service;
  port: number;
}

/**
 * Resolve `HOST:PORT` names (from `xds:///HOST:PORT`) to services: the FQDN, or a short form
 * (`name`, `name.ns`, `name.ns.svc`) relative to the client's namespace. Without names
 * (wildcard), every visible service port.
 */
export function grpcTargets(proxy: ProxyInfo, push: PushContext, names: readonly string[] | undefined): GrpcTarget[] {
  const visible = push.servicesVisibleTo(proxy);
  if (!names) {
    return visible.flatMap((s) => s.ports.map((p) => ({ name: `${s.hostname}:${p.port}`, service: s, port: p.port })));
  }
  const out: GrpcTarget[] = [];
  for (const name of names) {
    const colon = name.lastIndexOf(':');
    const host = colon < 0 ? name : name.slice(0, colon);
    const port = colon < 0 ? 80 : Number(name.slice(colon + 1));
    if (!Number.isInteger(port)) continue;
    const service = visible.find((s) => s.hostname === host && s.ports.some((p) => p.port === port)) ?? visible.find((s) => s.ports.some((p) => p.port === port) && domainAliases(s.hostname, [], port, proxy.dnsDomain).includes(host));
    if (service) out.push({ name, service, port });
  }
  return out;
}

/** Listener `HOST:PORT` with an ApiListener carrying an HttpConnectionManager (RDS of the same name). */
export function grpcListener(t: GrpcTarget): JsonObject {
  return {
    name: t.name,
    apiListener: { apiListener: httpConnectionManagerConfig({ statPrefix: t.name, rds: t.name, grpc: true }) },
  };
}

/** Route config `HOST:PORT`: one virtual host answering the requested authority and the service's aliases. */
export function grpcRouteConfig(proxy: ProxyInfo, push: PushContext, t: GrpcTarget): JsonObject {
  const vs = push.virtualServiceForHost(proxy, t.service.hostname);
  const ctx = { push, proxy, gateway: MESH_GATEWAY, port: t.port, proxyLabels: proxy.labels, proxyNamespace: proxy.namespace, vsNamespace: vs?.namespace ?? proxy.namespace, grpc: true };
  const routes = vs ? buildHttpRoutes(vs.http, ctx, vs) : [defaultRoute(outboundClusterName(t.port, undefined, t.service.hostname), true)];
  const domains = [...new Set([t.name, ...domainAliases(t.service.hostname, t.service.addresses, t.port, proxy.dnsDomain)])];
  return { name: t.name, virtualHosts: [{ name: t.name, domains, routes: routes.length > 0 ? routes : [defaultRoute(outboundClusterName(t.port, undefined, t.service.hostname), true)] }] };
}

