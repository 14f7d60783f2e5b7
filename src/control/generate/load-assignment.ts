import type { Endpoint, Locality } from '../registry/service.ts';
import type { JsonObject } from './envoy-extensions.ts';
import type { LocalityGroup } from './locality-lb.ts';

/**
 * Endpoints grouped by locality, as ClusterLoadAssignment.endpoints: each locality carries its
 * weight (the sum of its endpoints' weights; gRPC clients ignore localities without one), each
 * endpoint its weight, health and the metadata auto mTLS and telemetry read.
 */
export interface LbEndpointOptions {
  grpc: boolean;
  /**
   * A waypoint's endpoints: those this says speak HBONE become `envoy_internal_address`es of
   * `connect_originate` (endpoint_id `IP:PORT`), reached through an HBONE tunnel.
   */
  hbone?: (address: string) => boolean;
}

export function localityLbEndpoints(endpoints: readonly Endpoint[], opts: LbEndpointOptions): JsonObject[] {
  return localityGroupsJson(localityGroups(endpoints), opts);
}

/** Endpoints grouped by locality (sorted by `region/zone/subzone`), all at priority 0. */
export function localityGroups(endpoints: readonly Endpoint[]): LocalityGroup[] {
  const groups = new Map<string, LocalityGroup>();
  for (const e of endpoints) {
    const loc = e.locality ?? {};
    const key = `${loc.region ?? ''}/${loc.zone ?? ''}/${loc.subzone ?? ''}`;
    const g = groups.get(key) ?? { locality: loc, endpoints: [], weight: 0, priority: 0 };
    g.endpoints.push(e);
    g.weight += e.weight ?? 1;
    groups.set(key, g);
  }
  return [...groups.keys()].sort().map((k) => groups.get(k)!);
}

/** LocalityLbEndpoints JSON of locality groups (a priority only when not 0, as Envoy omits it). */
export function localityGroupsJson(groups: readonly LocalityGroup[], opts: LbEndpointOptions): JsonObject[] {
  return groups.map((g) => {
    const out: JsonObject = { locality: envoyLocality(g.locality), lbEndpoints: g.endpoints.map((e) => lbEndpoint(e, opts)), loadBalancingWeight: g.weight };
    if (g.priority > 0) out.priority = g.priority;
    return out;
  });
}

function envoyLocality(l: Locality): JsonObject {
  const out: JsonObject = {};
  if (l.region) out.region = l.region;
  if (l.zone) out.zone = l.zone;
  if (l.subzone) out.subZone = l.subzone;
  return out;
}

function lbEndpoint(e: Endpoint, opts: LbEndpointOptions): JsonObject {
  const internal = opts.hbone?.(e.address) === true;
  const id = e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
  const out: JsonObject = {
    endpoint: { address: internal ? { envoyInternalAddress: { serverListenerName: 'connect_originate', endpointId: id } } : { socketAddress: { address: e.address, portValue: e.port } } },
    healthStatus: e.healthy ? 'HEALTHY' : 'UNHEALTHY',
    loadBalancingWeight: e.weight ?? 1,
  };
  if (!opts.grpc) {
    // As istiod (AppendLbEndpointMetadata): tlsMode only when it is not `disabled` (clusters'
    // tlsMode-disabled socket matches every endpoint anyway), then the compressed workload.
    const filterMetadata: JsonObject = e.tlsMode === 'disabled' ? {} : { 'envoy.transport_socket_match': { tlsMode: e.tlsMode } };
    filterMetadata.istio = { workload: workloadMetadata(e) };
    out.metadata = { filterMetadata };
  }
  return out;
}

/** Istio's default cluster id (CLUSTER_ID), the only cluster a single control plane knows here. */
const CLUSTER_ID = 'Kubernetes';

/**
 * istiod's `istio.workload` endpoint metadata, `NAME;NAMESPACE;CANONICAL_SERVICE;CANONICAL_REVISION;CLUSTER`
 * (revision empty when it would be `latest`):
 * what telemetry reports as the destination workload and canonical service before the peer's
 * own metadata arrives. Canonical service/revision follow Istio's label precedence.
 */
export function workloadMetadata(e: Pick<Endpoint, 'workloadName' | 'namespace' | 'labels'>): string {
  const l = e.labels;
  const name = e.workloadName ?? '';
  const canonical = l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l.app ?? name;
  const revision = l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l.version ?? 'latest';
  // istiod leaves out the default revision ("don't bother sending the default value").
  return `${name};${e.namespace};${canonical};${revision === 'latest' ? '' : revision};${CLUSTER_ID}`;
}
