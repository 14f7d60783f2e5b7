import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { parseClusterName } from './cluster-names.ts';
import type { JsonObject } from './envoy-extensions.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';
import { inboundClusters } from './inbound-listeners.ts';
import { outboundClusters, serviceClusters, specialClusters } from './outbound-clusters.ts';
import { filterNames, toResources } from './resource-list.ts';
import { waypointClusters } from './waypoint-resources.ts';
import { sniDnatClusters } from './auto-passthrough.ts';

/**
 * CDS: `outbound|PORT|SUBSET|HOST` for every visible service port and DestinationRule subset,
 * plus (sidecars) `inbound|PORT||` clusters and BlackHole/Passthrough, (gateways with an
 * AUTO_PASSTHROUGH server) the SNI-DNAT clusters `outbound_.PORT_.SUBSET_.HOST`. Proxyless gRPC clients get
 * EDS clusters only, for the names they ask for.
 */
export class ClusterGenerator implements Generator {
  readonly typeUrl = TYPE_URL.cluster;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    if (proxy.generator === 'grpc') return toResources(grpcClusters(proxy, push, request.names), request.names);
    if (proxy.type === 'waypoint') return filterNames(push.cached(`cds-res-wp|${push.scopeKey(proxy)}`, () => toResources([...waypointClusters(proxy, push), ...specialClusters()], undefined)), request.names);
    // The outbound part is shared by the proxies of a scope (wrapped once); inbound is per workload.
    const shared = push.cached(`cds-res|${push.scopeKey(proxy)}`, () => toResources([...outboundClusters(proxy, push, { grpc: false }), ...sniDnatClusters(proxy, push), ...specialClusters(proxy.type !== 'router')], undefined));
    const own = proxy.type === 'sidecar' ? toResources(inboundClusters(proxy, push), undefined) : [];
    return filterNames([...shared, ...own], request.names);
  }
}

function grpcClusters(proxy: ProxyInfo, push: PushContext, names: readonly string[] | undefined): JsonObject[] {
  if (!names || names.length === 0) return outboundClusters(proxy, push, { grpc: true });
  const out: JsonObject[] = [];
  for (const name of names) {
    const parsed = parseClusterName(name);
    if (!parsed || parsed.direction !== 'outbound') continue;
    const service = push.serviceFor(proxy, parsed.host);
    const port = service?.ports.find((p) => p.port === parsed.port);
    if (!service || !port) continue;
    const c = push.cached(`cds|grpc|${push.scopeKey(proxy)}|${name}`, () => serviceClusters(proxy, push, service, port, { grpc: true }).find((x) => x.name === name));
    if (c) out.push(c);
  }
  return out;
}
