import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { JsonObject } from './envoy-extensions.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';
import { gatewayRouteConfigs } from './gateway-routes.ts';
import { grpcRouteConfig, grpcTargets } from './grpc-resources.ts';
import { toResources } from './resource-list.ts';
import { carriesHttp, outboundVirtualHosts } from './virtual-hosts.ts';

/**
 * RDS: sidecars get one route config per outbound HTTP port, named by the port (`"9080"`);
 * routers `http.PORT`/`https...` per gateway server; proxyless clients `HOST:PORT`.
 */
export class RouteGenerator implements Generator {
  readonly typeUrl = TYPE_URL.route;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    const scope = push.scopeKey(proxy);
    if (proxy.generator === 'grpc') return toResources(grpcTargets(proxy, push, request.names).map((t) => push.cached(`rds|${scope}|${t.name}`, () => grpcRouteConfig(proxy, push, t))), undefined);
    if (proxy.type === 'router') return toResources(push.cached(`rds|${scope}`, () => gatewayRouteConfigs(proxy, push)), request.names);
    return toResources(sidecarRouteConfigs(proxy, push, request.names), request.names);
  }
}

/** istiod's limit on direct_response bodies (1 MiB; Envoy's default is 4 KiB). */
const MAX_DIRECT_RESPONSE_BODY = 1048576;

/** Sidecar outbound route configs, for the requested port names (all HTTP ports when wildcard). */
export function sidecarRouteConfigs(proxy: ProxyInfo, push: PushContext, names: readonly string[] | undefined): JsonObject[] {
  let ports: number[];
  if (names && names.length > 0) {
    ports = names.map(Number).filter((n) => Number.isInteger(n) && n > 0 && n < 65536);
  } else {
    const set = new Set<number>();
    for (const s of push.servicesVisibleTo(proxy)) for (const p of s.ports) if (carriesHttp(p.protocol)) set.add(p.port);
    ports = [...set].sort((a, b) => a - b);
  }
  const scope = push.scopeKey(proxy);
  return ports.map((port) => push.cached(`rds|${scope}|${port}`, () => ({ name: String(port), virtualHosts: outboundVirtualHosts(proxy, push, port), validateClusters: false, maxDirectResponseBodySizeBytes: MAX_DIRECT_RESPONSE_BODY, ignorePortInHostMatching: true })));
}
