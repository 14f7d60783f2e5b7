import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { ConfigResource } from '../../api/config-resource.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { ChangeClass, PushRequest } from './push-request.ts';
import type { ConfigChange } from '../config/config-store-reader.ts';

/** What scoping asks of the push context (PushContext.dependsOn satisfies it). */
export interface DependencyView {
  dependsOn(proxy: ProxyInfo, ref: { kind: string; namespace?: string; name: string }, resource?: ConfigResource): boolean;
}

/** Types an endpoint-only change pushes (the name table answers headless services with their endpoints). */
export const ENDPOINT_TYPES: readonly string[] = [TYPE_URL.endpoint, TYPE_URL.workloadAddress, TYPE_URL.nameTable];

/**
 * Config kinds that cannot change a sidecar's or gateway's endpoints (Istio's skippedEdsConfigs):
 * a push caused only by these leaves EDS out. Envoy asks for the endpoints of a cluster it has
 * not seen by itself, so a new cluster still gets its endpoints.
 */
export const KINDS_WITHOUT_ENDPOINTS: ReadonlySet<string> = new Set([
  'VirtualService',
  'Gateway',
  'AuthorizationPolicy',
  'RequestAuthentication',
  'Telemetry',
  'WasmPlugin',
  'ProxyConfig',
]);

/**
 * Config kinds the cluster generators never read (sidecar, router and proxyless clusters come
 * from services, DestinationRules, Sidecar scopes, PeerAuthentication and mesh config): a push
 * caused only by these leaves CDS out as well. istiod regenerates CDS for a VirtualService and
 * leans on its XDS cache; generating 1,000 clusters only to find them unchanged sat on the
 * critical path of every route change here. test/generate/cluster-independence.test.ts keeps
 * the generators to it.
 */
export const KINDS_WITHOUT_CLUSTERS: ReadonlySet<string> = new Set([
  'VirtualService',
  'Gateway',
  'AuthorizationPolicy',
  'RequestAuthentication',
]);

/** Every type but EDS (the ADS server pushes only those a connection watches). */
const ALL_BUT_ENDPOINTS: readonly string[] = Object.values(TYPE_URL).filter((t) => t !== TYPE_URL.endpoint);
/** Every type but EDS and CDS. */
const ALL_BUT_ENDPOINTS_AND_CLUSTERS: readonly string[] = ALL_BUT_ENDPOINTS.filter((t) => t !== TYPE_URL.cluster);

/**
 * Decide, per proxy, what a push request sends (Istio's ProxyNeedsPush + the type filter):
 * 'all' watched types when a config change reaches the proxy (namespace, exportTo, Sidecar
 * egress scope, service dependence — asked of the push context with both the old and the new
 * version of each changed resource) — all but EDS when only kinds that cannot change endpoints
 * (VirtualService, Gateway, policies) reach it, and not CDS either when none of them is read by
 * the cluster generators —, only endpoint types for endpoint-only changes,
 * and nothing (undefined) when no change concerns it.
 */
export function scopePush(
  request: PushRequest,
  view: DependencyView,
  classify: (c: ConfigChange) => ChangeClass,
): (proxy: ProxyInfo) => readonly string[] | 'all' | undefined {
  if (request.forceAll) return () => 'all';
  const config = request.changes.filter((c) => classify(c) === 'config');
  const endpointChanges = request.changes.filter((c) => classify(c) === 'endpoints');
  return (proxy) => {
    let reached = false;
    let clusters = false;
    for (const c of config) {
      const ref = { kind: c.kind, ...(c.namespace !== undefined ? { namespace: c.namespace } : {}), name: c.name };
      if ((c.old && view.dependsOn(proxy, ref, c.old)) || (c.new && view.dependsOn(proxy, ref, c.new)) || (!c.old && !c.new && view.dependsOn(proxy, ref))) {
        if (!KINDS_WITHOUT_ENDPOINTS.has(c.kind)) return 'all';
        reached = true;
        if (!KINDS_WITHOUT_CLUSTERS.has(c.kind)) clusters = true;
      }
    }
    if (reached) return endpointChanges.length > 0 ? 'all' : clusters ? ALL_BUT_ENDPOINTS : ALL_BUT_ENDPOINTS_AND_CLUSTERS;
    if (endpointChanges.length > 0) {
      // A proxy's own workload (its labels, its identity) shapes its whole config.
      const own = endpointChanges.some((c) => c.kind === 'Pod' && c.name === proxy.podName && c.namespace === proxy.namespace);
      // A waypoint's listener has chains for the workload addresses bound to it (their labels, their IPs).
      const bound = proxy.type === 'waypoint' && endpointChanges.some((c) => c.kind === 'Pod' || c.kind === 'WorkloadEntry');
      return own || bound ? 'all' : ENDPOINT_TYPES;
    }
    return undefined;
  };
}
