import { asArray, asObj, asString, fractionalPercent, wrappedBool, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields } from '../xds-client/resource-rejection.ts';
import { compileStringMatcher, type StringMatch } from '../matchers/string-matcher.ts';
import type { HeaderList } from '../http1/header-list.ts';
import type { FilterContext, FilterVerdict, HttpFilter } from './http-filter.ts';

export const CORS_FILTER_TYPE = 'envoy.extensions.filters.http.cors.v3.Cors';

interface CorsSpec {
  origins: readonly StringMatch[];
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
  allowCredentials: boolean;
  enabled: boolean;
}

function compileCors(o: Obj, path: string): CorsSpec {
  onlyFields(o, path, ['allowOriginStringMatch', 'allowMethods', 'allowHeaders', 'exposeHeaders', 'maxAge', 'allowCredentials', 'filterEnabled', 'shadowEnabled', 'allowPrivateNetworkAccess', 'forwardNotMatchingPreflights']);
  const fe = asObj(o.filterEnabled);
  return {
    origins: asArray(o.allowOriginStringMatch).map((m, i) => compileStringMatcher(m, `${path}.allowOriginStringMatch[${i}]`)),
    allowMethods: asString(o.allowMethods),
    allowHeaders: asString(o.allowHeaders),
    exposeHeaders: asString(o.exposeHeaders),
    maxAge: asString(o.maxAge),
    allowCredentials: wrappedBool(o.allowCredentials) === true,
    enabled: o.filterEnabled === undefined || fractionalPercent(fe.defaultValue) >= 1,
  };
}

/**
 * envoy.filters.http.cors with per-route CorsPolicy (typed_per_filter_config, as Istio emits for
 * VirtualService corsPolicy): answers preflights and adds Access-Control-* to allowed responses.
 */
export function createCorsFilter(name: string, _config: Obj, _path: string): HttpFilter {
  const cache = new WeakMap<Obj, CorsSpec>();
  const specFor = (ctx: FilterContext): CorsSpec | undefined => {
    const rc = ctx.route?.perFilterConfig.get(name) ?? ctx.route?.perFilterConfig.get('envoy.filters.http.cors');
    if (!rc) return undefined;
    let s = cache.get(rc);
    if (!s) {
      s = compileCors(rc, `route ${ctx.route?.name ?? ''} typedPerFilterConfig[${name}]`);
      cache.set(rc, s);
    }
    return s.enabled ? s : undefined;
  };
  const allowed = (s: CorsSpec, origin: string): boolean => s.origins.some((m) => m(origin));
  return {
    name,
    decodeHeaders(ctx: FilterContext): FilterVerdict {
      const origin = ctx.request.headers.get('origin');
      if (origin === undefined || ctx.request.method !== 'OPTIONS' || !ctx.request.headers.has('access-control-request-method')) return undefined;
      const s = specFor(ctx);
      if (!s || !allowed(s, origin)) return undefined;
      const headers: [string, string][] = [['access-control-allow-origin', origin]];
      if (s.allowCredentials) headers.push(['access-control-allow-credentials', 'true']);
      if (s.allowMethods) headers.push(['access-control-allow-methods', s.allowMethods]);
      if (s.allowHeaders) headers.push(['access-control-allow-headers', s.allowHeaders]);
      if (s.maxAge) headers.push(['access-control-max-age', s.maxAge]);
      return { status: 200, body: '', headers, details: 'cors_preflight' };
    },
    encodeHeaders(ctx: FilterContext, _status: number, headers: HeaderList): void {
      const origin = ctx.request.headers.get('origin');
      if (origin === undefined || headers.has('access-control-allow-origin')) return;
      const s = specFor(ctx);
      if (!s || !allowed(s, origin)) return;
      headers.set('access-control-allow-origin', origin);
      if (s.allowCredentials) headers.set('access-control-allow-credentials', 'true');
      if (s.exposeHeaders) headers.set('access-control-expose-headers', s.exposeHeaders);
    },
  };
}
