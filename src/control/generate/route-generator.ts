import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { JsonObject } from './envoy-extensions.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';
import { gatewayRouteConfigs } from './gateway-routes.ts';
import { grpcRouteConfig, grpcTargets } from './grpc-resources.ts';
import { toResources } from './resource-list.ts';
import type { Service } from '../registry/service.ts';
import { carriesHttp, isSniffed, outboundVirtualHosts, sniffedRouteName, sniffedServiceVirtualHosts } from './virtual-hosts.ts';
import { waypointRouteConfigs } from './waypoint-resources.ts';

/**
 * RDS: sidecars get one route config per outbound HTTP port, named by the port (`"9080"`), and
 * one per sniffed port on a service VIP (`HOST:PORT`);
 * routers `http.PORT`/`https...` per gateway server; proxyless clients `HOST:PORT`.
 */
export class RouteGenerator implements Generator {
  readonly typeUrl = TYPE_URL.route;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    const scope = push.scopeKey(proxy);
    if (proxy.generator === 'grpc') return toResources(grpcTargets(proxy, push, request.names).map((t) => push.cached(`rds|${scope}|${t.name}`, () => grpcRouteConfig(proxy, push, t))), undefined);
    if (proxy.type === 'waypoint') return toResources(push.cached(`rds-wp|${proxy.namespace}|${proxy.labels['gateway.networking.k8s.io/gateway-name'] ?? ''}|${scope}`, () => waypointRouteConfigs(proxy, push)), request.names);
    if (proxy.type === 'router') return toResources(push.cached(`rds|${scope}`, () => gatewayRouteConfigs(proxy, push)), request.names);
    return toResources(sidecarRouteConfigs(proxy, push, request.names), request.names);
  }
}

/** istiod's limit on direct_response bodies (1 MiB; Envoy's default is 4 KiB). */
const MAX_DIRECT_RESPONSE_BODY = 1048576;

/**
 * Sidecar outbound route configs for the requested names (every one when wildcard): per HTTP or
 * sniffed port (`"9080"`), and per sniffed port bound to a service's VIP (`HOST:PORT`, as istiod).
 */
export function sidecarRouteConfigs(proxy: ProxyInfo, push: PushContext, names: readonly string[] | undefined): JsonObject[] {
  const wildcard = !names || names.length === 0;
  const ports = new Set<number>();
  const sniffed: { service: Service; port: number }[] = [];
  const wanted = new Set(names ?? []);
  if (wildcard) {
    for (const s of push.servicesVisibleTo(proxy)) for (const p of s.ports) if (carriesHttp(p.protocol)) ports.add(p.port);
  } else {
    for (const n of names) {
      const port = Number(n);
      if (Number.isInteger(port) && port > 0 && port < 65536) ports.add(port);
    }
  }
  for (const s of push.servicesVisibleTo(proxy)) {
    if (!s.addresses.some((a) => !a.includes('/'))) continue;
    for (const p of s.ports) {
      const name = sniffedRouteName(s.hostname, p.port);
      if (isSniffed(p.protocol) && (wildcard || wanted.has(name)) && !sniffed.some((x) => sniffedRouteName(x.service.hostname, x.port) === name)) sniffed.push({ service: s, port: p.port });
    }
  }
  const scope = push.scopeKey(proxy);
  const config = (name: string, virtualHosts: () => JsonObject[]): JsonObject => push.cached(`rds|${scope}|${name}`, () => ({ name, virtualHosts: virtualHosts(), validateClusters: false, maxDirectResponseBodySizeBytes: MAX_DIRECT_RESPONSE_BODY, ignorePortInHostMatching: true }));
  return [
    ...[...ports].sort((a, b) => a - b).map((port) => config(String(port), () => outboundVirtualHosts(proxy, push, port))),
    ...sniffed.map(({ service, port }) => config(sniffedRouteName(service.hostname, port), () => sniffedServiceVirtualHosts(proxy, push, service, port))),
  ];
}
