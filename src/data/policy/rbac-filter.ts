import type { Obj } from '../xds-client/proto-values.ts';
import { asObj } from '../xds-client/proto-values.ts';
import type { FilterContext, FilterVerdict, HttpFilter, LocalReply } from '../l7/http-filter.ts';
import type { NetworkFilter } from '../listener/network-filter.ts';
import type { StreamInfo } from '../l7/stream-info.ts';
import { compileRbacConfig, evaluateRbac, RbacStats, type RbacConfig } from './rbac-engine.ts';

export const HTTP_RBAC_TYPE = 'envoy.extensions.filters.http.rbac.v3.RBAC';
export const NETWORK_RBAC_TYPE = 'envoy.extensions.filters.network.rbac.v3.RBAC';

/** An HTTP RBAC filter, with its counters (for /stats). */
export interface RbacHttpFilter extends HttpFilter {
  readonly stats: RbacStats;
}

function denied(policy: string): LocalReply {
  return { status: 403, body: 'RBAC: access denied', details: `rbac_access_denied_matched_policy[${policy || 'none'}]` };
}

/**
 * envoy.filters.http.rbac: 403 `RBAC: access denied` when the enforced rules deny the request.
 * Per-route `RBACPerRoute` (typed_per_filter_config) replaces the listener's config for that route.
 */
export function createHttpRbacFilter(name: string, config: Obj, path: string): RbacHttpFilter {
  const base = compileRbacConfig(config, path, []);
  const perRoute = new WeakMap<Obj, RbacConfig>();
  const stats = new RbacStats();
  const mdKey = name || 'envoy.filters.http.rbac';
  return {
    name,
    stats,
    decodeHeaders(ctx: FilterContext): FilterVerdict {
      let cfg = base;
      const rc = ctx.route?.perFilterConfig.get(name);
      if (rc) {
        let c = perRoute.get(rc);
        if (!c) {
          const rbac = asObj(rc.rbac);
          c = rc.rbac === undefined ? { enforced: undefined, shadow: undefined, shadowPrefix: '' } : compileRbacConfig(rbac, `route ${ctx.route?.name ?? ''} typedPerFilterConfig[${name}].rbac`, []);
          perRoute.set(rc, c);
        }
        cfg = c;
      }
      if (evaluateRbac(cfg, stats, mdKey, ctx.info, ctx.request)) return undefined;
      return denied(cfg.enforced?.action === 'DENY' ? cfg.enforced.matchedPolicy : '');
    },
  };
}

export interface RbacNetworkFilter extends NetworkFilter {
  readonly stats: RbacStats;
}

/**
 * envoy.filters.network.rbac: evaluated once per connection (after TLS, so principals are known);
 * a denied connection is closed. Only CONTINUOUS/ONE_TIME_ON_FIRST_BYTE enforcement both mean
 * "on connection" here since the decision never depends on bytes.
 */
export function createNetworkRbacFilter(name: string, config: Obj, path: string): RbacNetworkFilter {
  const cfg = compileRbacConfig(config, path, ['statPrefix', 'enforcementType', 'delayDenyMs', 'delayDeny']);
  const stats = new RbacStats();
  const mdKey = name || 'envoy.filters.network.rbac';
  return {
    name,
    stats,
    onConnection(info: StreamInfo): boolean {
      const ok = evaluateRbac(cfg, stats, mdKey, info, undefined);
      if (!ok) {
        info.responseCodeDetails = `rbac_access_denied_matched_policy[${cfg.enforced?.action === 'DENY' ? cfg.enforced.matchedPolicy || 'none' : 'none'}]`;
      }
      return ok;
    },
  };
}
