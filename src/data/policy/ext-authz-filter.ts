import type { HeaderList } from '../http1/header-list.ts';
import type { FilterContext, FilterVerdict, HttpFilter, LocalReply } from '../l7/http-filter.ts';
import type { NetworkFilter } from '../listener/network-filter.ts';
import type { StreamInfo } from '../l7/stream-info.ts';
import type { Obj } from '../xds-client/proto-values.ts';
import type { CheckInput, CheckResult, ExtAuthzClient } from './ext-authz-check.ts';
import { compileExtAuthzPerRoute, type ExtAuthzConfig, type ExtAuthzPerRoute } from './ext-authz-config.ts';

/** Envoy's ext_authz counters (`ext_authz.ok`, `.denied`, `.error`, `.failure_mode_allowed`, `.disabled`). */
export class ExtAuthzStats {
  ok = 0;
  denied = 0;
  error = 0;
  failureModeAllowed = 0;
  disabled = 0;
}

export interface ExtAuthzHttpFilter extends HttpFilter {
  readonly stats: ExtAuthzStats;
}

/** Headers the authorizer asked to add to the downstream response, kept per stream until its response head. */
const CLIENT_HEADERS = 'envoy.filters.http.ext_authz:client_headers';

/**
 * envoy.filters.http.ext_authz: when enabled for the stream (filter_enabled_metadata: Istio's
 * CUSTOM rules matched; filter_enabled; not disabled per route), asks the authorization service
 * and holds the request until it answers. Allowed: the service's header mutations are applied
 * to the upstream request, its client headers to the response. Denied: its status, body and
 * headers go back (flag UAEX, details `ext_authz_denied`). Error: status_on_error (403) with
 * details `ext_authz_error`, or the request continues under failure_mode_allow (with
 * `x-envoy-auth-failure-mode-allowed: true` when asked).
 */
export function createHttpExtAuthzFilter(name: string, cfg: ExtAuthzConfig, client: ExtAuthzClient, path: string): ExtAuthzHttpFilter {
  const stats = new ExtAuthzStats();
  const perRoute = new WeakMap<Obj, ExtAuthzPerRoute>();
  const routeSettings = (ctx: FilterContext): ExtAuthzPerRoute | undefined => {
    const rc = ctx.route?.perFilterConfig.get(name);
    if (!rc) return undefined;
    let c = perRoute.get(rc);
    if (!c) {
      c = compileExtAuthzPerRoute(rc, `route ${ctx.route?.name ?? ''} typedPerFilterConfig[${name}] (${path})`);
      perRoute.set(rc, c);
    }
    return c;
  };
  return {
    name,
    stats,
    decodeHeaders(ctx: FilterContext): FilterVerdict | Promise<FilterVerdict> {
      const settings = routeSettings(ctx);
      if (settings?.disabled) return undefined;
      if (cfg.enabledMetadata && !cfg.enabledMetadata(ctx.info)) return undefined;
      if (cfg.enabledFraction < 1 && Math.random() >= cfg.enabledFraction) {
        stats.disabled++;
        return undefined;
      }
      return (async (): Promise<FilterVerdict> => {
        const input: CheckInput = { info: ctx.info, request: ctx.request, body: undefined, partialBody: false, contextExtensions: settings?.contextExtensions ?? {} };
        if (cfg.withBody && !settings?.disableBody && ctx.bufferBody) {
          const b = await ctx.bufferBody(cfg.withBody.maxBytes);
          if (!b.complete && !cfg.withBody.allowPartial && b.data.length >= cfg.withBody.maxBytes) return { status: 413, body: 'Payload Too Large', details: 'request_payload_too_large' };
          input.body = b.data.subarray(0, cfg.withBody.maxBytes);
          input.partialBody = !b.complete;
          ctx.request.headers.set('x-envoy-auth-partial-body', input.partialBody ? 'true' : 'false');
        }
        return applyResult(await client.check(input), ctx, cfg, stats);
      })();
    },
    encodeHeaders(ctx: FilterContext, _status: number, headers: HeaderList): void {
      const add = ctx.info.filterState.get(CLIENT_HEADERS) as [string, string][] | undefined;
      if (add) for (const [k, v] of add) headers.add(k, v);
    },
  };
}

function applyResult(r: CheckResult, ctx: FilterContext, cfg: ExtAuthzConfig, stats: ExtAuthzStats): FilterVerdict {
  const h = ctx.request.headers;
  switch (r.kind) {
    case 'ok':
      stats.ok++;
      for (const k of r.upstreamRemove) if (!k.startsWith(':') && k !== 'host') h.remove(k);
      for (const [k, v] of r.upstreamSet) setRequestHeader(ctx, k, v, false);
      for (const [k, v] of r.upstreamAppend) setRequestHeader(ctx, k, v, true);
      if (r.clientHeaders.length > 0) ctx.info.filterState.set(CLIENT_HEADERS, r.clientHeaders);
      return undefined;
    case 'denied': {
      stats.denied++;
      const reply: LocalReply = { status: r.status, body: r.body, headers: r.headers, flag: 'UAEX', details: 'ext_authz_denied' };
      return reply;
    }
    default:
      stats.error++;
      if (cfg.failureModeAllow) {
        stats.failureModeAllowed++;
        if (cfg.failureModeAllowHeaderAdd) h.set('x-envoy-auth-failure-mode-allowed', 'true');
        return undefined;
      }
      return { status: cfg.statusOnError, body: '', flag: 'UAEX', details: 'ext_authz_error' };
  }
}

/** Pseudo headers the authorizer may set (:path, :authority, :method) go to the request line. */
function setRequestHeader(ctx: FilterContext, k: string, v: string, append: boolean): void {
  const req = ctx.request;
  if (k === ':path') req.path = v;
  else if (k === ':authority' || k === 'host') req.authority = v;
  else if (k === ':method') req.method = v;
  else if (k.startsWith(':')) return;
  else if (append) req.headers.add(k, v);
  else req.headers.set(k, v);
}

export interface ExtAuthzNetworkFilter extends NetworkFilter {
  readonly stats: ExtAuthzStats;
}

/**
 * envoy.filters.network.ext_authz: checks a connection (source/destination peers) before any
 * byte is proxied when filter_enabled_metadata matches (Istio's CUSTOM rules matched in the
 * network RBAC filter); a denial or an error (unless failure_mode_allow) closes it.
 */
export function createNetworkExtAuthzFilter(name: string, cfg: ExtAuthzConfig, client: ExtAuthzClient): ExtAuthzNetworkFilter {
  const stats = new ExtAuthzStats();
  return {
    name,
    stats,
    onConnection(info: StreamInfo): boolean | Promise<boolean> {
      if (cfg.enabledMetadata && !cfg.enabledMetadata(info)) return true;
      return client.check({ info, request: undefined, body: undefined, partialBody: false, contextExtensions: {} }).then((r) => {
        if (r.kind === 'ok') {
          stats.ok++;
          return true;
        }
        if (r.kind === 'denied') {
          stats.denied++;
          info.responseCodeDetails = 'ext_authz_denied';
          info.addFlag('UAEX');
          return false;
        }
        stats.error++;
        if (cfg.failureModeAllow) {
          stats.failureModeAllowed++;
          return true;
        }
        info.responseCodeDetails = 'ext_authz_error';
        info.addFlag('UAEX');
        return false;
      });
    },
  };
}
