import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { PushContext } from '../push/push-context.ts';
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
    const names = request.names && request.names.length > 0 ? request.names : outboundClusters(proxy, push, { grpc }).filter((c) => c.type === 'EDS').map((c) => c.name as string);
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
    if (!subset) return { clusterName, endpoints: [] };
    labels = subset.labels ?? {};
  }
  const endpoints = subsetEndpoints(push, service, parsed.port, labels);
  return { clusterName, endpoints: localityLbEndpoints(endpoints, { grpc }) };
}
