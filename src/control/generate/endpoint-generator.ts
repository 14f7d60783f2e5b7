import { TYPE_URL } from '../../api/xds/type-urls.ts';
import { labelsKey, type PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { parseClusterName } from './cluster-names.ts';
import type { JsonObject } from './envoy-extensions.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';
import { effectivePolicy } from './cluster-traffic-policy.ts';
import { ingressWaypointEndpoints, proxyHboneAt, sendsHbone } from './hbone-endpoints.ts';
import { localityGroups, localityGroupsJson } from './load-assignment.ts';
import { applyLocalityLb, effectiveLocalityLb, withLocalityLabels, type LocalityGroup } from './locality-lb.ts';
import type { Subset } from '../../api/istio/destination-rule.ts';
import { outboundClusters, subsetEndpoints } from './outbound-clusters.ts';
import { toResources } from './resource-list.ts';
import { waypointEdsNames, waypointLoadAssignment } from './waypoint-resources.ts';
import { parseSniDnatClusterName, sniDnatClusters } from './auto-passthrough.ts';
import { splitHorizon, splitHorizonKey } from './split-horizon.ts';

/**
 * EDS: a ClusterLoadAssignment per requested EDS cluster (all of the proxy's EDS clusters when
 * wildcard): the service port's endpoints, narrowed to the subset's labels, grouped by locality.
 */
export class EndpointGenerator implements Generator {
  readonly typeUrl = TYPE_URL.endpoint;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    if (proxy.type === 'waypoint') {
      const names = request.names && request.names.length > 0 ? request.names : waypointEdsNames(proxy, push);
      return toResources(names.map((n) => waypointLoadAssignment(proxy, push, n)).filter((c): c is JsonObject => c !== undefined), undefined);
    }
    const grpc = proxy.generator === 'grpc';
    // Proxies of one scope ask for the same clusters: build the answer once per push.
    const names = request.names && request.names.length > 0 ? request.names : undefined;
    // locality load balancing makes assignments depend on the proxy's locality (and labels, with failoverPriority)
    const l = push.proxyLocality(proxy);
    const where = `${l.region ?? ''}/${l.zone ?? ''}/${l.subzone ?? ''}${push.localityLabelSensitive ? `|${labelsKey(proxy.labels)}` : ''}`;
    const key = `eds-res|${push.scopeKey(proxy)}|${sendsHbone(proxy)}|${where}|${splitHorizonKey(proxy, push)}|${names ? names.join('\n') : '*'}`;
    return [...push.cached(key, () => this.build(proxy, push, names, grpc))];
  }

  private build(proxy: ProxyInfo, push: PushContext, requested: readonly string[] | undefined, grpc: boolean): GeneratedResource[] {
    const request = { names: requested };
    const names =
      request.names && request.names.length > 0
        ? request.names
        : push.cached(`eds-names|${grpc}|${push.scopeKey(proxy)}`, () => [...outboundClusters(proxy, push, { grpc }), ...(grpc ? [] : sniDnatClusters(proxy, push))].filter((c) => c.type === 'EDS').map((c) => c.name as string));
    const out: JsonObject[] = [];
    for (const name of names) {
      const cla = loadAssignment(proxy, push, name, grpc);
      if (cla) out.push(cla);
    }
    return toResources(out, undefined);
  }
}

/**
 * The ClusterLoadAssignment of one `outbound|PORT|SUBSET|HOST` cluster (or a gateway's SNI-DNAT
 * `outbound_.PORT_.SUBSET_.HOST`), or undefined when unknown; split-horizon when networks have gateways.
 */
export function loadAssignment(proxy: ProxyInfo, push: PushContext, clusterName: string, grpc: boolean): JsonObject | undefined {
  const parsed = parseClusterName(clusterName) ?? parseSniDnatClusterName(clusterName);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const service = push.serviceFor(proxy, parsed.host);
  if (!service || !service.ports.some((p) => p.port === parsed.port)) return undefined;
  let labels: Readonly<Record<string, string>> | undefined;
  let subset: Subset | undefined;
  const dr = push.destinationRuleFor(proxy, service);
  if (parsed.subset) {
    subset = dr?.spec.subsets?.find((s) => s.name === parsed.subset);
    if (!subset) return push.cached(`eds|none|${clusterName}`, () => ({ clusterName, endpoints: [] }));
    labels = subset.labels ?? {};
  }
  const viaWaypoint = ingressWaypointEndpoints(proxy, push, service, parsed.port);
  if (viaWaypoint) return { clusterName, endpoints: viaWaypoint };
  const hbone = sendsHbone(proxy) ? proxyHboneAt(push) : undefined;
  const opts = { grpc, ...(hbone ? { hbone } : {}) };
  const policy = effectivePolicy(dr?.spec.trafficPolicy, subset?.trafficPolicy, parsed.port);
  const setting = effectiveLocalityLb(push.mesh.localityLbSetting, policy.loadBalancer?.localityLbSetting);
  const outlier = policy.outlierDetection !== undefined;
  const net = splitHorizonKey(proxy, push);
  const shared = `eds|${grpc}|${hbone !== undefined}|${service.namespace}|${clusterName}|${labelsKey(labels ?? {})}${net ? `|${net}` : ''}`;
  const groups = (): LocalityGroup[] => push.cached(`${shared}|groups`, () => {
    const all = localityGroups(subsetEndpoints(push, service, parsed.port, labels));
    return net ? splitHorizon(all, proxy, push) : all;
  });
  if (!setting || (!outlier && !(setting.distribute && setting.distribute.length > 0))) {
    // Shared by every proxy that resolves the same subset labels for this cluster.
    return push.cached(shared, () => ({ clusterName, endpoints: localityGroupsJson(groups(), opts) }));
  }
  // As istiod: priorities (failover) or weights (distribute) seen from the proxy's locality.
  const locality = push.proxyLocality(proxy);
  const proxyLabels = withLocalityLabels(proxy.labels, locality);
  const byLabels = setting.failoverPriority?.length ? `|${labelsKey(proxyLabels)}` : '';
  const key = `${shared}|${JSON.stringify(setting)}|${outlier}|${locality.region ?? ''}/${locality.zone ?? ''}/${locality.subzone ?? ''}${byLabels}`;
  return push.cached(key, () => ({ clusterName, endpoints: localityGroupsJson(applyLocalityLb(groups(), locality, proxyLabels, setting, outlier), opts) }));
}
