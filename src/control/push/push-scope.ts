import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { ConfigResource } from '../../api/config-resource.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { ChangeClass, PushRequest } from './push-request.ts';
import type { ConfigChange } from '../config/config-store-reader.ts';

/** What scoping asks of the push context (PushContext.dependsOn satisfies it). */
export interface DependencyView {
  dependsOn(proxy: ProxyInfo, ref: { kind: string; namespace?: string; name: string }, resource?: ConfigResource): boolean;
}

/** Types an endpoint-only change pushes. */
export const ENDPOINT_TYPES: readonly string[] = [TYPE_URL.endpoint, TYPE_URL.workloadAddress];

/**
 * Decide, per proxy, what a push request sends (Istio's ProxyNeedsPush + the type filter):
 * 'all' watched types when a config change reaches the proxy (namespace, exportTo, Sidecar
 * egress scope, service dependence — asked of the push context with both the old and the new
 * version of each changed resource), only endpoint types for endpoint-only changes, and
 * nothing (undefined) when no change concerns it.
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
    for (const c of config) {
      const ref = { kind: c.kind, ...(c.namespace !== undefined ? { namespace: c.namespace } : {}), name: c.name };
      if ((c.old && view.dependsOn(proxy, ref, c.old)) || (c.new && view.dependsOn(proxy, ref, c.new)) || (!c.old && !c.new && view.dependsOn(proxy, ref))) {
        return 'all';
      }
    }
    if (endpointChanges.length > 0) {
      // A proxy's own workload (its labels, its identity) shapes its whole config.
      const own = endpointChanges.some((c) => c.kind === 'Pod' && c.name === proxy.podName && c.namespace === proxy.namespace);
      return own ? 'all' : ENDPOINT_TYPES;
    }
    return undefined;
  };
}
