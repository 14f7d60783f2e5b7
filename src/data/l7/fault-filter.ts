import { asArray, asNumber, asObj, durationMs, fractionalPercent, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileHeaderMatcher, type HeaderMatch } from './header-matcher.ts';
import type { FilterContext, FilterVerdict, HttpFilter } from './http-filter.ts';
import { LOCAL_REPLY } from './local-reply.ts';
import { headerValueFor } from './route-match.ts';

export const FAULT_FILTER_TYPE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';

interface FaultSpec {
  delayMs: number | undefined;
  delayFraction: number;
  abortStatus: number | undefined;
  grpcStatus: number | undefined;
  abortFraction: number;
  headers: readonly HeaderMatch[];
  upstreamClusters: readonly string[];
}

const FIELDS = ['delay', 'abort', 'upstreamCluster', 'headers', 'downstreamNodes', 'maxActiveFaults', 'responseRateLimit', 'delayPercentRuntime', 'abortPercentRuntime', 'delayDurationRuntime', 'abortHttpStatusRuntime', 'abortGrpcStatusRuntime', 'disableDownstreamClusterStats', 'filterMetadata'];

function compileFault(o: Obj, path: string): FaultSpec {
  onlyFields(o, path, FIELDS);
  if (o.responseRateLimit !== undefined) reject(`${path}.responseRateLimit`, 'response rate limiting is not supported');
  const delay = asObj(o.delay);
  const abort = asObj(o.abort);
  if (o.delay !== undefined) onlyFields(delay, `${path}.delay`, ['fixedDelay', 'percentage', 'headerDelay']);
  if (o.abort !== undefined) onlyFields(abort, `${path}.abort`, ['httpStatus', 'grpcStatus', 'percentage', 'headerAbort']);
  if (delay.headerDelay !== undefined) reject(`${path}.delay.headerDelay`, 'header-controlled delays are not supported');
  if (abort.headerAbort !== undefined) reject(`${path}.abort.headerAbort`, 'header-controlled aborts are not supported');
  const status = abort.httpStatus !== undefined ? asNumber(abort.httpStatus) : undefined;
  if (status !== undefined && (status < 200 || status >= 600)) reject(`${path}.abort.httpStatus`, `status ${status} out of range 200-599`);
  const upstream = typeof o.upstreamCluster === 'string' && o.upstreamCluster ? [o.upstreamCluster] : [];
  return {
    delayMs: o.delay !== undefined ? durationMs(delay.fixedDelay) ?? 0 : undefined,
    delayFraction: o.delay !== undefined ? fractionalPercent(delay.percentage) : 0,
    abortStatus: status,
    grpcStatus: abort.grpcStatus !== undefined ? asNumber(abort.grpcStatus) : undefined,
    abortFraction: o.abort !== undefined ? fractionalPercent(abort.percentage) : 0,
    headers: asArray(o.headers).map((h, i) => compileHeaderMatcher(h, `${path}.headers[${i}]`)),
    upstreamClusters: upstream,
  };
}

/**
 * envoy.filters.http.fault: delay and/or abort a percentage of requests. Config comes from the
 * filter's own typed_config and, per route, typed_per_filter_config (what Istio generates for
 * VirtualService `fault`); compiled per route on first use and cached by identity.
 */
export function createFaultFilter(name: string, config: Obj, path: string): HttpFilter {
  const base = Object.keys(config).some((k) => k !== '@type') ? compileFault(config, path) : undefined;
  const perRoute = new WeakMap<Obj, FaultSpec>();
  return {
    name,
    decodeHeaders(ctx: FilterContext): FilterVerdict | Promise<FilterVerdict> {
      let spec = base;
      const rc = ctx.route?.perFilterConfig.get(name) ?? ctx.route?.perFilterConfig.get('envoy.filters.http.fault');
      if (rc) {
        spec = perRoute.get(rc);
        if (!spec) {
          spec = compileFault(rc, `route ${ctx.route?.name ?? ''} typedPerFilterConfig[${name}]`);
          perRoute.set(rc, spec);
        }
      }
      if (!spec) return undefined;
      for (const h of spec.headers) if (!h.test(headerValueFor(ctx.request, h.name))) return undefined;
      if (spec.upstreamClusters.length > 0 && !spec.upstreamClusters.includes(ctx.info.clusterName)) return undefined;
      const abort = spec.abortStatus !== undefined || spec.grpcStatus !== undefined ? Math.random() < spec.abortFraction : false;
      const verdict: FilterVerdict = abort ? abortReply(spec) : undefined;
      if (spec.delayMs !== undefined && spec.delayMs > 0 && Math.random() < spec.delayFraction) {
        ctx.info.addFlag('DI');
        const ms = spec.delayMs;
        return new Promise((resolve) => setTimeout(() => resolve(verdict), ms).unref());
      }
      return verdict;
    },
  };
}

function abortReply(spec: FaultSpec): FilterVerdict {
  if (spec.grpcStatus !== undefined && spec.abortStatus === undefined) {
    return { status: 200, body: '', headers: [['content-type', 'application/grpc'], ['grpc-status', String(spec.grpcStatus)], ['grpc-message', 'fault filter abort']], flag: 'FI', details: 'fault_filter_abort' };
  }
  return { ...LOCAL_REPLY.faultAbort, status: spec.abortStatus ?? 503 };
}
