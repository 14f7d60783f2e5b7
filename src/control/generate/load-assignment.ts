import type { Endpoint, Locality } from '../registry/service.ts';
import type { JsonObject } from './envoy-extensions.ts';

/**
 * Endpoints grouped by locality, as ClusterLoadAssignment.endpoints: each locality carries its
 * weight (the sum of its endpoints' weights; gRPC clients ignore localities without one), each
 * endpoint its weight, health and the metadata auto mTLS and telemetry read.
 */
export function localityLbEndpoints(endpoints: readonly Endpoint[], opts: { grpc: boolean }): JsonObject[] {
  const groups = new Map<string, { locality: Locality; eps: Endpoint[] }>();
  for (const e of endpoints) {
    const loc = e.locality ?? {};
    const key = `${loc.region ?? ''}/${loc.zone ?? ''}/${loc.subzone ?? ''}`;
    const g = groups.get(key) ?? { locality: loc, eps: [] };
    g.eps.push(e);
    groups.set(key, g);
  }
  const out: JsonObject[] = [];
  for (const key of [...groups.keys()].sort()) {
    const { locality, eps } = groups.get(key)!;
    const lbEndpoints = eps.map((e) => lbEndpoint(e, opts));
    const weight = eps.reduce((sum, e) => sum + (e.weight ?? 1), 0);
    out.push({ locality: envoyLocality(locality), lbEndpoints, loadBalancingWeight: weight });
  }
  return out;
}

function envoyLocality(l: Locality): JsonObject {
  const out: JsonObject = {};
  if (l.region) out.region = l.region;
  if (l.zone) out.zone = l.zone;
  if (l.subzone) out.subZone = l.subzone;
  return out;
}

function lbEndpoint(e: Endpoint, opts: { grpc: boolean }): JsonObject {
  const out: JsonObject = {
    endpoint: { address: { socketAddress: { address: e.address, portValue: e.port } } },
    healthStatus: e.healthy ? 'HEALTHY' : 'UNHEALTHY',
    loadBalancingWeight: e.weight ?? 1,
  };
  if (!opts.grpc) {
    const workload = `${e.workloadName ?? ''};${e.namespace};;;`;
    out.metadata = { filterMetadata: { 'envoy.transport_socket_match': { tlsMode: e.tlsMode }, istio: { workload, tlsMode: e.tlsMode } } };
  }
  return out;
}
