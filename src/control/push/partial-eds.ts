import { TYPE_URL } from '../../api/xds/type-urls.ts';
import { parseSniDnatClusterName } from '../generate/auto-passthrough.ts';
import { parseClusterName } from '../generate/cluster-names.ts';
import type { PartialPush } from '../xds/partial-push.ts';
import type { PushRequest } from './push-request.ts';

/**
 * Kinds whose changes reach EDS only through the endpoints of the services that select them.
 * Pods are not among them: the generators also read pods directly (ambient enrollment, HBONE
 * capability, waypoints), so a pod change may move the endpoints of services that did not change.
 */
const PARTIAL_KINDS: ReadonlySet<string> = new Set(['WorkloadEntry', 'Endpoints', 'EndpointSlice']);

/**
 * Istio's incremental EDS: an endpoint-only push (no full push, only WorkloadEntries, Endpoints
 * or EndpointSlices changed) regenerates and sends only the ClusterLoadAssignments of the
 * services whose endpoints differ between the two registries — istiod's EDSUpdate puts those
 * hostnames in ConfigsUpdated and its EDS generator skips every other subscribed cluster.
 * `hosts`: hostsWithChangedEndpoints of the push's two registries (undefined: services changed).
 * Undefined when the push must send whole sets (any other change, services that changed).
 * Waypoints get their whole set (their EDS names are not per service).
 */
export function partialEndpointPush(req: PushRequest, hosts: ReadonlySet<string> | undefined): PartialPush | undefined {
  if (!hosts || req.full || req.forceAll || req.changes.length === 0 || !req.changes.every((c) => PARTIAL_KINDS.has(c.kind))) return undefined;
  const memo = new WeakMap<readonly string[], readonly string[]>();
  const affected = (name: string): boolean => {
    const parsed = parseClusterName(name) ?? parseSniDnatClusterName(name);
    return !parsed || hosts.has(parsed.host);
  };
  return {
    typeUrl: TYPE_URL.endpoint,
    pick(proxy, names) {
      if (proxy.type === 'waypoint') return undefined;
      let out = memo.get(names);
      if (!out) memo.set(names, (out = hosts.size === 0 ? [] : names.filter(affected)));
      return out;
    },
  };
}
