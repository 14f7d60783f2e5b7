import { isDeepStrictEqual } from 'node:util';
import type { ConfigChange } from '../config/config-store-reader.ts';
import { MESH_CONFIG_MAP } from '../config/mesh-config-watcher.ts';
import { KUBERNETES_GATEWAY } from '../../api/kinds.ts';

/** Kinds whose changes only move endpoints (EDS), never services, routes or listeners. */
const ENDPOINT_KINDS = new Set(['Endpoints', 'EndpointSlice', 'Pod', 'WorkloadEntry']);

/** Kinds no proxy configuration is derived from (read by analyzers or `mizzen up` only). */
const INERT_KINDS = new Set(['ServiceAccount', 'Deployment']);

/** Kinds whose status proxies read: a Gateway API Gateway's addresses make it a usable waypoint. */
const STATUS_KINDS = new Set([KUBERNETES_GATEWAY]);

/**
 * What a store change means for proxies: `endpoints` (push EDS only), `config` (full push of the
 * affected proxies), or `none`. Pods, WorkloadEntries, Endpoints and EndpointSlices only change
 * endpoints, as in Istio; everything else that proxies read is config. ConfigMaps matter only
 * when they carry mesh config (`istio`). A change that leaves metadata and spec equal is `none`,
 * except a Gateway's status (waypoint readiness and address).
 */
export function classifyChange(change: ConfigChange): 'endpoints' | 'config' | 'none' {
  if (change.old && change.new && isDeepStrictEqual(change.old.spec, change.new.spec) && isDeepStrictEqual(change.old.metadata, change.new.metadata)) {
    if (STATUS_KINDS.has(change.kind) && !isDeepStrictEqual(change.old.raw.status, change.new.raw.status)) return 'config';
    return isDeepStrictEqual(change.old.raw, change.new.raw) || !ENDPOINT_KINDS.has(change.kind) ? 'none' : 'endpoints';
  }
  if (ENDPOINT_KINDS.has(change.kind)) return 'endpoints';
  if (INERT_KINDS.has(change.kind)) return 'none';
  if (change.kind === 'ConfigMap') return change.name === MESH_CONFIG_MAP ? 'config' : 'none';
  return 'config';
}
