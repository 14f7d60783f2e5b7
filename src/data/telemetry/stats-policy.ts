import type { FilterContext, HttpFilter } from '../l7/http-filter.ts';
import { asArray, asObj, asString, isObj, structToJson, type Obj } from '../xds-client/proto-values.ts';
import { compileCel, type CelProgram } from './cel-attributes.ts';

/** filterState key: the istio.stats config of the HCM a stream went through. */
export const STATS_KEY = 'istio.stats';
/** filterState key: request headers captured for metric dimensions that read them. */
export const STATS_HEADERS_KEY = 'istio.stats.headers';

/** One metric's override from Telemetry (stats.MetricConfig). */
export interface MetricPolicy {
  drop: boolean;
  remove: ReadonlySet<string>;
  /** Added or replaced labels: name → CEL expression over the stream's attributes. */
  dimensions: readonly [string, CelProgram][];
}

/** A compiled stats.PluginConfig: per-metric overrides (by Prometheus name without `istio_`). */
export interface StatsPolicy {
  metrics: ReadonlyMap<string, MetricPolicy>;
  readsHeaders: boolean;
  /** `reporter: SERVER_GATEWAY` (a waypoint's HCMs): the stream is reported as `reporter="waypoint"`. */
  waypoint: boolean;
}

/** Istio's standard metrics by stats name. */
export const STATS_METRICS = ['requests_total', 'request_duration_milliseconds', 'request_bytes', 'response_bytes', 'tcp_sent_bytes_total', 'tcp_received_bytes_total', 'tcp_connections_opened_total', 'tcp_connections_closed_total'];

/** Compile istio.stats' config (typed stats.PluginConfig, or a TypedStruct value). */
export function compileStatsPolicy(config: Obj, path: string): StatsPolicy {
  const v = isObj(config.value) ? (isObj(config.value.fields) ? structToJson(config.value) : config.value) : config;
  const metrics = new Map<string, MetricPolicy>();
  let readsHeaders = false;
  asArray(v.metrics).forEach((m, i) => {
    const name = asString(m.name);
    const dims: [string, CelProgram][] = [];
    for (const [k, expr] of Object.entries(asObj(m.dimensions))) {
      const p = compileCel(String(expr), `${path}.metrics[${i}].dimensions.${k}`);
      readsHeaders ||= p.readsHeaders;
      dims.push([k, p]);
    }
    const remove = new Set<string>(((m.tags_to_remove ?? m.tagsToRemove) as string[] | undefined) ?? []);
    const targets = name ? [name] : STATS_METRICS;
    for (const t of targets) metrics.set(t, { drop: m.drop === true, remove, dimensions: dims });
  });
  return { metrics, readsHeaders, waypoint: v.reporter === 'SERVER_GATEWAY' };
}

/**
 * The istio.stats HTTP filter: marks its streams for Istio metrics with the HCM's policy, at the
 * stream's start (a request an earlier filter answers is counted too), and captures the request
 * headers as they reach it for dimensions that read them.
 */
export function createStatsFilter(name: string, config: Obj, path: string): HttpFilter {
  const policy = compileStatsPolicy(config, path);
  return {
    name,
    streamStart(ctx) {
      ctx.info.filterState.set(STATS_KEY, policy);
      if (policy.readsHeaders) ctx.info.filterState.set(STATS_HEADERS_KEY, ctx.request.headers.toRecord());
    },
    ...(policy.readsHeaders
      ? {
          decodeHeaders(ctx: FilterContext): undefined {
            ctx.info.filterState.set(STATS_HEADERS_KEY, ctx.request.headers.toRecord());
            return undefined;
          },
        }
      : {}),
  };
}
