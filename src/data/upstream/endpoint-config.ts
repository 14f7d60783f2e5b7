import { isIP } from 'node:net';
import { asArray, asObj, asString, filterMetadata, wrapped, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';

/** One endpoint from a ClusterLoadAssignment (or a static load_assignment). */
export interface EndpointSpec {
  address: string;
  port: number;
  weight: number;
  healthy: boolean;
  /** filter_metadata values used for transport_socket_matches (e.g. tlsMode) and telemetry. */
  metadata: Readonly<Record<string, unknown>>;
  locality: string;
  hostname: string;
  /** Locality priority (0 first; higher ones take traffic when lower ones have no healthy host). */
  priority: number;
  /** Its locality's load_balancing_weight (locality-weighted load balancing; 0 when unset). */
  localityWeight: number;
  /**
   * An `envoy_internal_address` endpoint: the internal listener that carries connections to it
   * (the waypoint's `connect_originate`); address and port come from its `endpoint_id` (`IP:PORT`).
   * Without an `endpoint_id` (Istio's `encap` cluster) address is '' and port 0: each connection
   * goes to the downstream connection's own destination through that listener.
   */
  internalListener?: string;
}

export interface EndpointsConfig {
  clusterName: string;
  endpoints: EndpointSpec[];
  /** policy.overprovisioning_factor / 100 (Envoy's default 140 → 1.4). */
  overprovisioning: number;
}

const HEALTHY = new Set(['UNKNOWN', 'HEALTHY', 'DEGRADED', '']);

export function compileEndpoints(cla: Obj, path: string): EndpointsConfig {
  onlyFields(cla, path, ['clusterName', 'endpoints', 'namedEndpoints', 'policy']);
  const endpoints: EndpointSpec[] = [];
  asArray(cla.endpoints).forEach((le, i) => {
    const p = `${path}.endpoints[${i}]`;
    onlyFields(le, p, ['locality', 'lbEndpoints', 'loadBalancingWeight', 'priority', 'metadata', 'proximity', 'leds_cluster_locality_config']);
    const priority = Number(le.priority ?? 0);
    const localityWeight = wrapped(le.loadBalancingWeight) ?? 0;
    const loc = asObj(le.locality);
    const locality = [asString(loc.region), asString(loc.zone), asString(loc.subZone)].join('/');
    asArray(le.lbEndpoints).forEach((lb, j) => {
      const q = `${p}.lbEndpoints[${j}]`;
      onlyFields(lb, q, ['endpoint', 'healthStatus', 'metadata', 'loadBalancingWeight', 'endpointName']);
      const ep = asObj(lb.endpoint);
      onlyFields(ep, `${q}.endpoint`, ['address', 'healthCheckConfig', 'hostname', 'additionalAddresses']);
      const internal = asObj(asObj(ep.address).envoyInternalAddress);
      const addr = Object.keys(internal).length > 0 ? internalEndpoint(internal, `${q}.endpoint.address.envoyInternalAddress`) : asObj(asObj(ep.address).socketAddress);
      if (Object.keys(addr).length === 0) reject(`${q}.endpoint.address`, 'only socket addresses and envoy_internal_address are supported');
      if (!addr.internalListener) onlyFields(addr, `${q}.endpoint.address.socketAddress`, ['address', 'portValue', 'protocol', 'ipv4Compat', 'resolverName']);
      const address = asString(addr.address);
      if (!address && !addr.internalListener) reject(`${q}.endpoint.address.socketAddress.address`, 'address is empty');
      const md = { ...filterMetadata(lb.metadata, 'envoy.transport_socket_match'), ...prefixed(filterMetadata(lb.metadata, 'istio')), ...tunnelOf(lb.metadata) };
      endpoints.push({
        ...(addr.internalListener ? { internalListener: asString(addr.internalListener) } : {}),
        address,
        port: Number(addr.portValue ?? 0),
        weight: wrapped(lb.loadBalancingWeight) ?? 1,
        healthy: HEALTHY.has(asString(lb.healthStatus)),
        metadata: md,
        locality,
        priority,
        localityWeight,
        hostname: asString(ep.hostname) || (isIP(address) ? '' : address),
      });
    });
  });
  const factor = wrapped(asObj(cla.policy).overprovisioningFactor);
  return { clusterName: asString(cla.clusterName), endpoints, overprovisioning: (factor ?? 140) / 100 };
}

/**
 * envoy_internal_address {server_listener_name, endpoint_id "IP:PORT"} as an address, a port and
 * the listener; without endpoint_id, the downstream's destination (address '', port 0).
 */
function internalEndpoint(a: Obj, path: string): Obj {
  onlyFields(a, path, ['serverListenerName', 'endpointId']);
  const listener = asString(a.serverListenerName);
  if (!listener) reject(`${path}.serverListenerName`, 'is empty');
  const id = asString(a.endpointId);
  if (!id) return { address: '', portValue: 0, internalListener: listener };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(id) ?? /^([^:]+):(\d+)$/.exec(id);
  if (!m || !isIP(m[1]!)) reject(`${path}.endpointId`, `must be IP:PORT (the endpoint behind the internal listener), got "${id}"`);
  return { address: m![1], portValue: Number(m![2]), internalListener: listener };
}

/**
 * Istio's `tunnel` endpoint metadata for `connect_originate` endpoints: `address` is where the
 * HBONE connection goes (a waypoint pod's IP:15008) when it is not the endpoint's own IP:15008.
 */
function tunnelOf(metadata: unknown): Obj {
  const address = asString(filterMetadata(metadata, 'tunnel').address);
  return address ? { [TUNNEL_ADDRESS]: address } : {};
}

export const TUNNEL_ADDRESS = 'tunnel.address';

function prefixed(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[`istio.${k}`] = v;
  return out;
}
