import { messageNameOf } from '../../api/xds/type-urls.ts';
import type { FilterContext, HttpFilter } from '../l7/http-filter.ts';
import type { StreamInfo, StreamObserver } from '../l7/stream-info.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { asArray, asObj, asString, wrapped, wrappedBool, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { OtlpExporter } from './otlp-exporter.ts';
import { Span, type LocalEndpoint } from './span.ts';
import { extractB3, extractW3c, IdGenerator, injectB3, injectW3c, requestIdInteger, traceReasonOf, withTraceReason, type ParentContext, type TraceReason } from './trace-context.ts';
import { ZipkinExporter } from './zipkin-exporter.ts';

/** filterState key of a request's span. */
export const SPAN_KEY = 'envoy.tracing.span';

interface Exporter {
  report(span: Span): void;
  flush(): Promise<void>;
  close(): void;
  readonly stats: { spansSent: number; spansDropped: number; reportsSent: number; reportsFailed: number };
}

interface Tracer {
  propagation: 'b3' | 'w3c';
  traceId128: boolean;
  exporter: Exporter;
}

type CustomTagValue =
  | { tag: string; kind: 'fixed'; value: string }
  | { tag: string; kind: 'header'; name: string; defaultValue: string }
  /** Request (dynamic) metadata a filter recorded, e.g. the RBAC filter's shadow result: `filter` namespace, then `path`. */
  | { tag: string; kind: 'metadata'; filter: string; path: string[]; defaultValue: string };

/** A compiled HttpConnectionManager.Tracing. */
export interface TracingConfig {
  tracer: Tracer | undefined;
  /** Sampling percentages as parts of 10,000 (Envoy's FractionalPercent TEN_THOUSAND). */
  random: number;
  client: number;
  overall: number;
  customTags: CustomTagValue[];
  spawnUpstream: boolean;
  maxPathTagLength: number;
}

/** The span of one request and, with spawn_upstream_span, its upstream child. */
class RequestSpans {
  span: Span;
  upstream: Span | undefined;
  config: TracingConfig;
  headerTags: Record<string, string> | undefined;

  constructor(span: Span, config: TracingConfig) {
    this.span = span;
    this.config = config;
  }
}

const TRACING_FIELDS = ['clientSampling', 'randomSampling', 'overallSampling', 'verbose', 'maxPathTagLength', 'customTags', 'provider', 'spawnUpstreamSpan', 'operationName', 'requestHeadersForTags', 'responseHeadersForTags'];
const ZIPKIN = 'envoy.config.trace.v3.ZipkinConfig';
const OTEL = 'envoy.config.trace.v3.OpenTelemetryConfig';

function percent(v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt * 100;
  const n = Number(asObj(v).value ?? 0);
  return Math.round(Math.max(0, Math.min(100, n)) * 100);
}

/**
 * Envoy's HTTP tracing for one proxy: compiles HCM `tracing` blocks (sampling, custom tags,
 * the Zipkin or OpenTelemetry provider) into a filter that decides sampling as Envoy does
 * (trace reason packed into the UUID x-request-id, random sampling on the request id so every
 * hop agrees), continues or starts the trace from B3 / W3C headers, injects the new context
 * upstream, and an observer that finishes sampled spans with Envoy's tags and hands them to the
 * provider's batching exporter. One exporter per distinct provider config, shared by listeners.
 */
export class HttpTracing implements StreamObserver {
  private readonly ids = new IdGenerator();
  private readonly exporters = new Map<string, Exporter>();
  private readonly clusters: () => ClusterManager;
  private readonly local: LocalEndpoint;
  private readonly spans = new WeakMap<StreamInfo, RequestSpans>();

  private readonly environment: Readonly<Record<string, string>>;

  constructor(clusters: () => ClusterManager, local: LocalEndpoint, environment: Readonly<Record<string, string>> = {}) {
    this.clusters = clusters;
    this.local = local;
    this.environment = environment;
  }

  /** Exporter counters, by provider config (admin stats). */
  exporterStats(): { provider: string; spansSent: number; spansDropped: number; reportsSent: number; reportsFailed: number }[] {
    return [...this.exporters].map(([k, e]) => ({ provider: k, ...e.stats }));
  }

  /** Send every pending batch now. */
  async flush(): Promise<void> {
    await Promise.all([...this.exporters.values()].map((e) => e.flush()));
  }

  compile(o: Obj, path: string): TracingConfig {
    onlyFields(o, path, TRACING_FIELDS);
    let tracer: Tracer | undefined;
    if (o.provider !== undefined) tracer = this.tracer(asObj(o.provider), `${path}.provider`);
    const customTags: CustomTagValue[] = [];
    asArray(o.customTags).forEach((t, i) => {
      const p = `${path}.customTags[${i}]`;
      const tag = asString(t.tag);
      if (t.literal !== undefined) customTags.push({ tag, kind: 'fixed', value: asString(asObj(t.literal).value) });
      else if (t.environment !== undefined) {
        const env = asObj(t.environment);
        customTags.push({ tag, kind: 'fixed', value: this.environment[asString(env.name)] ?? asString(env.defaultValue) });
      } else if (t.requestHeader !== undefined) {
        const h = asObj(t.requestHeader);
        customTags.push({ tag, kind: 'header', name: asString(h.name).toLowerCase(), defaultValue: asString(h.defaultValue) });
      } else if (t.metadata !== undefined) {
        // Istio's dry-run policy tags: the RBAC filter's shadow result in the request's metadata
        const m = asObj(t.metadata);
        const kind = Object.keys(asObj(m.kind));
        if (kind.length !== 1 || kind[0] !== 'request') reject(`${p}.metadata.kind`, `metadata kind ${kind.join(',') || '(none)'} is not supported (request only)`);
        const key = asObj(m.metadataKey);
        const filter = asString(key.key);
        if (!filter) reject(`${p}.metadata.metadataKey.key`, 'metadata key is required');
        customTags.push({ tag, kind: 'metadata', filter, path: asArray(key.path).map((s) => asString(s.key)), defaultValue: asString(m.defaultValue) });
      } else reject(p, 'custom tag needs literal, environment, request_header or metadata');
    });
    return {
      tracer,
      random: percent(o.randomSampling, 100),
      client: percent(o.clientSampling, 100),
      overall: percent(o.overallSampling, 100),
      customTags,
      spawnUpstream: wrappedBool(o.spawnUpstreamSpan) === true,
      maxPathTagLength: wrapped(o.maxPathTagLength) ?? 256,
    };
  }

  private tracer(provider: Obj, path: string): Tracer {
    const tc = asObj(provider.typedConfig);
    const type = messageNameOf(asString(tc['@type'] ?? tc.typeUrl));
    const key = JSON.stringify(tc);
    if (type === ZIPKIN) {
      onlyFields(tc, `${path}.typedConfig`, ['@type', 'collectorCluster', 'collectorEndpoint', 'traceId_128bit', 'traceId128bit', 'sharedSpanContext', 'collectorEndpointVersion', 'collectorHostname', 'splitSpansForRequest']);
      const version = asString(tc.collectorEndpointVersion, 'HTTP_JSON');
      if (version !== 'HTTP_JSON') reject(`${path}.typedConfig.collectorEndpointVersion`, `${version} is not supported (HTTP_JSON only)`);
      if (wrappedBool(tc.sharedSpanContext) === true) reject(`${path}.typedConfig.sharedSpanContext`, 'shared span context is not supported (Istio sets false)');
      const cluster = asString(tc.collectorCluster);
      if (!cluster) reject(`${path}.typedConfig.collectorCluster`, 'collector cluster is required');
      const exporter = this.exporter(key, () => new ZipkinExporter({ clusters: this.clusters(), cluster, hostname: asString(tc.collectorHostname) || cluster, path: asString(tc.collectorEndpoint, '/api/v2/spans') || '/api/v2/spans', local: this.local }));
      return { propagation: 'b3', traceId128: tc.traceId_128bit === true || tc.traceId128bit === true, exporter };
    }
    if (type === OTEL) {
      onlyFields(tc, `${path}.typedConfig`, ['@type', 'grpcService', 'httpService', 'serviceName', 'resourceDetectors', 'sampler']);
      if (tc.sampler !== undefined) reject(`${path}.typedConfig.sampler`, 'OpenTelemetry samplers are not supported');
      const serviceName = asString(tc.serviceName);
      if (tc.httpService !== undefined) {
        const hs = asObj(tc.httpService);
        const uri = asObj(hs.httpUri);
        const cluster = asString(uri.cluster);
        const u = asString(uri.uri);
        const slash = u.replace(/^[a-z]+:\/\//, '').indexOf('/');
        const rest = u.replace(/^[a-z]+:\/\//, '');
        const authority = slash < 0 ? rest : rest.slice(0, slash);
        const p = slash < 0 ? '/v1/traces' : rest.slice(slash);
        const headers = asArray(hs.requestHeadersToAdd).map((h) => [asString(asObj(h.header).key), asString(asObj(h.header).value)] as [string, string]);
        const exporter = this.exporter(key, () => new OtlpExporter({ clusters: this.clusters(), cluster, authority, transport: 'http', path: p, serviceName, local: this.local, headers }));
        return { propagation: 'w3c', traceId128: true, exporter };
      }
      const gs = asObj(tc.grpcService);
      if (gs.envoyGrpc === undefined) reject(`${path}.typedConfig.grpcService`, 'only envoy_grpc is supported');
      const eg = asObj(gs.envoyGrpc);
      const cluster = asString(eg.clusterName);
      const headers = asArray(gs.initialMetadata).map((h) => [asString(h.key), asString(h.value)] as [string, string]);
      const exporter = this.exporter(key, () => new OtlpExporter({ clusters: this.clusters(), cluster, authority: asString(eg.authority) || cluster, transport: 'grpc', path: '', serviceName, local: this.local, headers }));
      return { propagation: 'w3c', traceId128: true, exporter };
    }
    return reject(`${path}.typedConfig`, `tracer ${asString(provider.name)} (${type || 'no type'}) is not supported (zipkin and opentelemetry are)`);
  }

  private exporter(key: string, make: () => Exporter): Exporter {
    let e = this.exporters.get(key);
    if (!e) {
      e = make();
      this.exporters.set(key, e);
    }
    return e;
  }

  /** The HCM's tracing as a filter (first in the chain): sampling decision, span start, context injection. */
  filter(config: TracingConfig): HttpFilter {
    return { name: 'envoy.tracing', decodeHeaders: (ctx) => this.start(ctx, config) };
  }

  private start(ctx: FilterContext, c: TracingConfig): undefined {
    const info = ctx.info;
    const h = ctx.request.headers;
    const rid = info.requestId;
    let reason: TraceReason = traceReasonOf(rid);
    const result = (requestIdInteger(rid) ?? this.ids.random32()) % 10000;
    if (reason === 'none') {
      if (h.has('x-client-trace-id') && this.ids.random32() % 10000 < c.client) reason = 'client';
      else if (h.has('x-envoy-force-trace')) reason = 'forced';
      else if (result < c.random) reason = 'sampled';
    }
    if (reason !== 'none' && result >= c.overall) reason = 'none';
    const packed = withTraceReason(rid, reason);
    if (packed !== rid) {
      h.set('x-request-id', packed);
      info.requestId = packed;
    }
    const tracer = c.tracer;
    if (!tracer) return undefined;
    const traced = reason !== 'none';
    let parent: ParentContext | undefined;
    let sampled: boolean;
    if (tracer.propagation === 'b3') {
      const b3 = extractB3(h);
      parent = b3.context;
      sampled = b3.sampled ?? traced;
    } else {
      parent = extractW3c(h);
      sampled = parent ? parent.sampled! : traced;
    }
    // unsampled requests reuse one object per connection; a sampled span belongs to its exporter
    let rs: RequestSpans;
    if (sampled) rs = new RequestSpans(new Span(), c);
    else {
      rs = this.spans.get(info) ?? new RequestSpans(new Span(), c);
      this.spans.set(info, rs);
    }
    const span = rs.span;
    rs.config = c;
    rs.upstream = undefined;
    rs.headerTags = undefined;
    span.sampled = sampled;
    span.traceId = parent ? parent.traceId : tracer.traceId128 ? this.ids.id64() + this.ids.id64() : this.ids.id64();
    span.spanId = this.ids.id64();
    span.parentId = parent ? parent.spanId : '';
    span.traceState = parent?.traceState ?? '';
    span.kind = info.direction === 'OUTBOUND' && !c.spawnUpstream ? 'CLIENT' : 'SERVER';
    let injected = span;
    if (c.spawnUpstream) {
      const up = new Span();
      up.sampled = sampled;
      up.traceId = span.traceId;
      up.spanId = this.ids.id64();
      up.parentId = span.spanId;
      up.traceState = span.traceState;
      up.kind = 'CLIENT';
      rs.upstream = up;
      injected = up;
    }
    if (tracer.propagation === 'b3') injectB3(h, injected.traceId, injected.spanId, injected.parentId, sampled);
    else injectW3c(h, injected.traceId, injected.spanId, sampled, injected.traceState);
    if (sampled) {
      span.name = ctx.route?.operation ?? info.authority;
      if (rs.upstream) rs.upstream.name = span.name;
      span.startUs = Math.round((performance.timeOrigin + info.startMs) * 1000);
      let tags: Record<string, string> | undefined;
      for (const t of c.customTags) {
        if (t.kind !== 'header') continue;
        const v = h.get(t.name) ?? t.defaultValue;
        if (v) (tags ??= {})[t.tag] = v;
      }
      const dc = h.get('x-envoy-downstream-service-cluster');
      if (dc) (tags ??= {})['downstream_cluster'] = dc;
      const fwd = h.get('x-forwarded-proto');
      if (fwd) (tags ??= {})['x-forwarded-proto'] = fwd;
      const orig = h.get('x-envoy-original-path');
      if (orig) (tags ??= {})['x-envoy-original-path'] = orig;
      rs.headerTags = tags;
    }
    info.filterState.set(SPAN_KEY, rs);
    return undefined;
  }

  /** Finish a sampled span with Envoy's tags and report it. */
  onStreamComplete(info: StreamInfo): void {
    const rs = info.filterState.get(SPAN_KEY) as RequestSpans | undefined;
    const tracer = rs?.config.tracer;
    if (!rs || !rs.span.sampled || !tracer) return;
    const s = rs.span;
    const c = rs.config;
    const ht = rs.headerTags;
    const endUs = Math.round((performance.timeOrigin + (info.endMs || performance.now())) * 1000);
    s.durationUs = endUs - s.startUs;
    const tags = s.tags;
    tags.component = 'proxy';
    tags.node_id = this.local.nodeId;
    if (this.local.zone) tags.zone = this.local.zone;
    if (info.requestId) tags['guid:x-request-id'] = info.requestId;
    const path = ht?.['x-envoy-original-path'] ?? info.path;
    tags['http.url'] = `${ht?.['x-forwarded-proto'] ?? info.scheme}://${info.authority}${path.length > c.maxPathTagLength ? path.slice(0, c.maxPathTagLength) : path}`;
    tags['http.method'] = info.method;
    tags.downstream_cluster = ht?.downstream_cluster ?? '-';
    tags.user_agent = info.userAgent || '-';
    tags['http.protocol'] = info.protocol;
    tags['peer.address'] = info.downstreamRemoteAddress;
    tags.request_size = String(info.bytesReceived);
    tags.response_size = String(info.bytesSent);
    this.commonTags(tags, info);
    for (const t of c.customTags) {
      if (t.kind === 'fixed') {
        if (t.value) tags[t.tag] = t.value;
      } else if (t.kind === 'metadata') {
        const v = metadataValue(info.filterState.get(t.filter), t.path) ?? t.defaultValue;
        if (v) tags[t.tag] = v;
      } else if (ht?.[t.tag]) tags[t.tag] = ht[t.tag]!;
    }
    const up = rs.upstream;
    if (up) {
      up.startUs = s.startUs;
      up.durationUs = s.durationUs;
      up.tags['http.protocol'] = info.protocol;
      if (info.upstreamHost) up.tags.upstream_address = info.upstreamHost;
      this.commonTags(up.tags, info);
      tracer.exporter.report(up);
    }
    tracer.exporter.report(s);
  }

  private commonTags(tags: Record<string, string>, info: StreamInfo): void {
    tags.component = 'proxy';
    if (info.clusterName) {
      tags.upstream_cluster = info.clusterName;
      tags['upstream_cluster.name'] = info.clusterName;
    }
    tags['http.status_code'] = String(info.responseCode);
    tags.response_flags = info.responseFlags || '-';
    if (info.responseCode === 0 || info.responseCode >= 500) tags.error = 'true';
  }

  close(): void {
    for (const e of this.exporters.values()) e.close();
    this.exporters.clear();
  }
}

/** A scalar at `path` in a filter's metadata (Envoy's MetadataCustomTag: structs and lists give no value). */
function metadataValue(md: unknown, path: readonly string[]): string | undefined {
  let v: unknown = md;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}
