import { TYPE_URL } from '../../api/xds/type-urls.ts';
import { labelsKey, type PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { parseClusterName } from './cluster-names.ts';
import type { JsonObject } from './envoy-extensions.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';
import { localityLbEndpoints } from './load-assignment.ts';
import { outboundClusters, subsetEndpoints } from './outbound-clusters.ts';
import { toResources } from './resource-list.ts';

/**
 * EDS: a ClusterLoadAssignment per requested EDS cluster (all of the proxy's EDS clusters when
 * wildcard): the service port's endpoints, narrowed to the subset's labels, grouped by locality.
 */
export class EndpointGenerator implements Generator {
  readonly typeUrl = TYPE_URL.endpoint;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    const grpc = proxy.generator === 'grpc';
    // Proxies of one scope ask for the same clusters: build the answer once per push.
    const names = request.names && request.names.length > 0 ? request.names : undefined;
    const key = `eds-res|${push.scopeKey(proxy)}|${names ? names.join('\n') : '*'}`;
    return [...push.cached(key, () => this.build(proxy, push, names, grpc))];
  }

  private build(proxy: ProxyInfo, push: PushContext, requested: readonly string[] | undefined, grpc: boolean): GeneratedResource[] {
    const request = { names: requested };
    const names =
      request.names && request.names.length > 0
        ? request.names
        : push.cached(`eds-names|${grpc}|${push.scopeKey(proxy)}`, () => outboundClusters(proxy, push, { grpc }).filter((c) => c.type === 'EDS').map((c) => c.name as string));
    const out: JsonObject[] = [];
    for (const name of names) {
      const cla = loadAssignment(proxy, push, name, grpc);
      if (cla) out.push(cla);
    }
    return toResources(out, undefined);
  }
}

/** The ClusterLoadAssignment of one `outbound|PORT|SUBSET|HOST` cluster, or undefined when unknown. */
export function loadAssignment(proxy: ProxyInfo, push: PushContext, clusterName: string, grpc: boolean): JsonObject | undefined {
  const parsed = parseClusterName(clusterName);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const service = push.serviceFor(proxy, parsed.host);
  if (!service || !service.ports.some((p) => p.port === parsed.port)) return undefined;
  let labels: Readonly<Record<string, string>> | undefined;
  if (parsed.subset) {
    const subset = push.destinationRuleFor(proxy, service)?.spec.subsets?.find((s) => s.name === parsed.subset);
    if (!subset) return push.cached(`eds|none|${clusterName}`, () => ({ clusterName, endpoints: [] }));
    labels = subset.labels ?? {};
  }
  // Shared by every proxy that resolves the same subset labels for this cluster.
  return push.cached(`eds|${grpc}|${service.namespace}|${clusterName}|${labelsKey(labels ?? {})}`, () => ({
    clusterName,
    endpoints: localityLbEndpoints(subsetEndpoints(push, service, parsed.port, labels), { grpc }),
  }));
}
