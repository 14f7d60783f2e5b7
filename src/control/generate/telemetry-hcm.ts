import type { CustomTag } from '../../api/istio/telemetry.ts';
import type { ExtensionProvider, ProxyTracing } from '../config/mesh-config.ts';
import type { PushContext } from '../push/push-context.ts';
import type { AccessLogSpec, ProviderMetrics, TracingSpec } from '../push/telemetry-index.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { outboundClusterName } from './cluster-names.ts';
import type { JsonObject } from './envoy-extensions.ts';
import { ISTIO_ACCESS_LOG_FORMAT, meshAccessLog } from './http-connection-manager.ts';

/** Which HCM is being built (Istio's ListenerClass). */
export type ListenerClass = 'inbound' | 'outbound' | 'gateway';

/** The telemetry parts of one HCM: `tracing`, `access_log`, and the istio.stats config (undefined: no stats filter). */
export interface HcmTelemetry {
  tracing: JsonObject | undefined;
  accessLog: JsonObject[];
  stats: JsonObject | undefined;
}

const T = 'type.googleapis.com/';
const CEL_FILTER = 'envoy.access_loggers.extension_filters.cel';
/** Istio's PILOT_TRACE_SAMPLING default. */
const DEFAULT_SAMPLING = 1.0;

/** Istio's stats PluginConfig metric names for the Telemetry metric enum. */
const PROMETHEUS_NAME: Record<string, string> = {
  REQUEST_COUNT: 'requests_total', REQUEST_DURATION: 'request_duration_milliseconds', REQUEST_SIZE: 'request_bytes',
  RESPONSE_SIZE: 'response_bytes', TCP_OPENED_CONNECTIONS: 'tcp_connections_opened_total', TCP_CLOSED_CONNECTIONS: 'tcp_connections_closed_total',
  TCP_SENT_BYTES: 'tcp_sent_bytes_total', TCP_RECEIVED_BYTES: 'tcp_received_bytes_total', GRPC_REQUEST_MESSAGES: 'request_messages_total',
  GRPC_RESPONSE_MESSAGES: 'response_messages_total',
};

/** The MeshConfig fields this module reads (beyond PushMeshConfig's). */
interface TelemetryMeshView {
  enableTracing?: boolean;
  defaultConfig?: { tracing?: ProxyTracing };
  accessLogFile?: string;
  accessLogEncoding?: 'TEXT' | 'JSON';
  accessLogFormat?: string;
}

/**
 * HCM tracing, access logs and stats for one proxy and listener class, as istiod builds them
 * (pilot's configureTracing, setHTTPAccessLog, Telemetries.HTTPFilters): Telemetry first, the
 * MeshConfig's legacy fields when no Telemetry applies. Cached per push by what it depends on.
 */
export function hcmTelemetry(push: PushContext, proxy: ProxyInfo, cls: ListenerClass): HcmTelemetry {
  const key = `hcm-telemetry|${cls}|${proxy.type}|${proxy.namespace}|${push.telemetry.key(proxy)}|${sharedOutbound(proxy, cls) ? outboundTelemetryKey(push, proxy) : `${serviceName(proxy)}|${istioTagsKey(proxy)}`}`;
  return push.cached(key, () => ({
    tracing: tracingConfig(push, proxy, cls),
    accessLog: accessLogs(push, proxy, cls),
    stats: statsConfig(push.telemetry.metrics(proxy), cls, proxy.type === 'waypoint'),
  }));
}

/** TCP listeners: access logs and the istio.stats network filter config. */
export function tcpTelemetry(push: PushContext, proxy: ProxyInfo, cls: ListenerClass): Omit<HcmTelemetry, 'tracing'> {
  const t = hcmTelemetry(push, proxy, cls);
  return { accessLog: t.accessLog, stats: t.stats };
}

/**
 * A sidecar's outbound listeners are shared by the workloads of a scope (ListenerGenerator), so
 * what differs per workload is kept out of them: the canonical service/revision span tags read
 * istio-proxy's CANONICAL_SERVICE / CANONICAL_REVISION environment (set by the injector), and
 * only an OpenTelemetry tracer (its service name) makes them per workload.
 */
function sharedOutbound(proxy: ProxyInfo, cls: ListenerClass): boolean {
  return cls === 'outbound' && proxy.type === 'sidecar';
}

/** What a sidecar's outbound telemetry depends on beyond its scope (ListenerGenerator adds it to the cache key). */
export function outboundTelemetryKey(push: PushContext, proxy: ProxyInfo): string {
  const spec = push.telemetry.tracing(proxy)?.client;
  const otel = spec && !spec.disabled && spec.provider?.opentelemetry !== undefined;
  return `${push.telemetry.key(proxy)}|${otel ? serviceName(proxy) : ''}|${String(proxy.metadata.MESH_ID ?? '')}|${proxy.clusterId}`;
}

function mesh(push: PushContext): TelemetryMeshView {
  return push.mesh as TelemetryMeshView;
}

/** The span's service name: the node's cluster (`CANONICAL_NAME.NAMESPACE`), as Envoy's local service cluster. */
function serviceName(proxy: ProxyInfo): string {
  const l = proxy.labels;
  const name = l['service.istio.io/canonical-name'] ?? l.app ?? l['app.kubernetes.io/name'] ?? proxy.workloadName ?? proxy.podName;
  return `${name}.${proxy.namespace}`;
}

function istioTagsKey(proxy: ProxyInfo): string {
  const l = proxy.labels;
  return `${l['service.istio.io/canonical-name'] ?? ''}|${l['service.istio.io/canonical-revision'] ?? ''}|${l['app.kubernetes.io/name'] ?? ''}|${l['app.kubernetes.io/version'] ?? ''}|${l.app ?? ''}|${l.version ?? ''}|${proxy.workloadName ?? ''}|${String(proxy.metadata.MESH_ID ?? '')}|${proxy.clusterId}`;
}

// ---- tracing ----

function tracingConfig(push: PushContext, proxy: ProxyInfo, cls: ListenerClass): JsonObject | undefined {
  const m = mesh(push);
  const legacy = m.defaultConfig?.tracing;
  const cfg = push.telemetry.tracing(proxy);
  if (!cfg) {
    if (m.enableTracing === false) return undefined;
    // legacy MeshConfig: sampling and tags; Istio's bootstrap carries the tracer (defaultConfig.tracing.zipkin)
    const out = sampling(proxySampling(legacy));
    out.customTags = customTags(undefined, legacy, proxy, cls);
    if (legacy?.maxPathTagLength) out.maxPathTagLength = legacy.maxPathTagLength;
    const address = legacy?.zipkin?.address;
    if (address) {
      const provider = zipkinFromAddress(push, address);
      if (provider) out.provider = provider;
      if (provider && proxy.type === 'router') out.spawnUpstreamSpan = true;
    }
    return out;
  }
  const spec = cls === 'inbound' ? cfg.server : cfg.client;
  if (spec.disabled || !spec.provider) return undefined;
  const provider = providerConfig(push, proxy, spec.provider);
  if (!provider) return undefined;
  const out: JsonObject = {};
  if (proxy.type === 'router') out.spawnUpstreamSpan = true;
  out.provider = provider.provider;
  if (provider.maxTagLength) out.maxPathTagLength = provider.maxTagLength;
  Object.assign(out, sampling(spec.randomSamplingPercentage ?? proxySampling(legacy)));
  out.customTags = customTags(spec, legacy, proxy, cls);
  if (out.maxPathTagLength === undefined && legacy?.maxPathTagLength) out.maxPathTagLength = legacy.maxPathTagLength;
  return out;
}

function sampling(percent: number): JsonObject {
  return { clientSampling: { value: 100 }, randomSampling: { value: percent }, overallSampling: { value: 100 } };
}

/** defaultConfig.tracing.sampling, else PILOT_TRACE_SAMPLING (1 %); over 100 means 1, as Istio. */
function proxySampling(t: ProxyTracing | undefined): number {
  const s = t?.sampling;
  if (typeof s !== 'number' || s === 0) return DEFAULT_SAMPLING;
  return s > 100 ? 1 : s;
}

function customTags(spec: TracingSpec | undefined, legacy: ProxyTracing | undefined, proxy: ProxyInfo, cls: ListenerClass): JsonObject[] {
  const enableIstioTags = spec ? spec.enableIstioTags : legacy?.enableIstioTags !== false;
  const tags: JsonObject[] = enableIstioTags ? istioTags(proxy, sharedOutbound(proxy, cls)) : [];
  const fromSpec = spec?.customTags && Object.keys(spec.customTags).length > 0 ? spec.customTags : (legacy?.customTags as Record<string, CustomTag> | undefined);
  for (const [tag, t] of Object.entries(fromSpec ?? {})) {
    if (!t) continue;
    if (t.literal) tags.push({ tag, literal: { value: t.literal.value ?? '' } });
    else if (t.environment) tags.push({ tag, environment: { name: t.environment.name ?? '', defaultValue: t.environment.defaultValue ?? '' } });
    else if (t.header) tags.push({ tag, requestHeader: { name: t.header.name ?? '', defaultValue: t.header.defaultValue ?? '' } });
    // formatter tags need Istio 1.29 proxies (Envoy's CustomTag.value): not sent, as istiod does for older proxies
  }
  return tags.sort((a, b) => ((a.tag as string) < (b.tag as string) ? -1 : 1));
}

/**
 * Istio's optional policy tags: the RBAC filter's dry-run (shadow) result, which istiod's
 * `istio.io/dry-run` AuthorizationPolicies record as `istio_dry_run_{allow,deny}_shadow_*`.
 */
const POLICY_TAGS: JsonObject[] = (['allow', 'deny'] as const).flatMap((action) => [
  rbacShadowTag(`istio.authorization.dry_run.${action}_policy.name`, `istio_dry_run_${action}_shadow_effective_policy_id`),
  rbacShadowTag(`istio.authorization.dry_run.${action}_policy.result`, `istio_dry_run_${action}_shadow_engine_result`),
]);

function rbacShadowTag(tag: string, key: string): JsonObject {
  return { tag, metadata: { kind: { request: {} }, metadataKey: { key: 'envoy.filters.http.rbac', path: [{ key }] } } };
}

/** Istio's policy tags, then its service tags (istio.canonical_revision/service, mesh_id, namespace, cluster_id). */
function istioTags(proxy: ProxyInfo, fromEnvironment: boolean): JsonObject[] {
  const lit = (tag: string, value: string): JsonObject => ({ tag, literal: { value } });
  const meshId = typeof proxy.metadata.MESH_ID === 'string' && proxy.metadata.MESH_ID ? proxy.metadata.MESH_ID : 'unknown';
  // the injector labels pods with the canonical name/revision derived from these labels
  const l = proxy.labels;
  const name = l['service.istio.io/canonical-name'] || l['app.kubernetes.io/name'] || l.app || proxy.workloadName || 'unknown';
  const revision = l['service.istio.io/canonical-revision'] || l['app.kubernetes.io/version'] || l.version || 'latest';
  const env = (tag: string, envName: string, dflt: string): JsonObject => ({ tag, environment: { name: envName, defaultValue: dflt } });
  return [
    ...POLICY_TAGS,
    fromEnvironment ? env('istio.canonical_revision', 'CANONICAL_REVISION', 'latest') : lit('istio.canonical_revision', revision),
    fromEnvironment ? env('istio.canonical_service', 'CANONICAL_SERVICE', 'unknown') : lit('istio.canonical_service', name),
    lit('istio.mesh_id', meshId),
    lit('istio.namespace', proxy.namespace || 'default'),
    lit('istio.cluster_id', proxy.clusterId || 'unknown'),
  ];
}

/** `SERVICE` or `NAMESPACE/SERVICE` and a port → hostname and `outbound|PORT||HOST` (Istio's LookupCluster). */
export function lookupCluster(push: PushContext, service: string | undefined, port: number | undefined): { hostname: string; cluster: string } | undefined {
  if (!service || !port) return undefined;
  const slash = service.indexOf('/');
  const [ns, host] = slash >= 0 ? [service.slice(0, slash), service.slice(slash + 1)] : [undefined, service];
  const found = push.registry.servicesByHost(host).filter((s) => ns === undefined || s.namespace === ns);
  const namespaces = new Set(found.map((s) => s.namespace));
  if (found.length === 0 || namespaces.size > 1) return undefined;
  return { hostname: found[0]!.hostname, cluster: outboundClusterName(port, undefined, found[0]!.hostname) };
}

function providerConfig(push: PushContext, proxy: ProxyInfo, p: ExtensionProvider): { provider: JsonObject; maxTagLength?: number } | undefined {
  const zipkin = p.zipkin as { service?: string; port?: number; maxTagLength?: number; path?: string; enable64bitTraceId?: boolean } | undefined;
  if (zipkin) {
    const c = lookupCluster(push, zipkin.service, zipkin.port);
    if (!c) return undefined;
    return { provider: zipkinTracer(c.cluster, c.hostname, zipkin.path, zipkin.enable64bitTraceId !== true), maxTagLength: zipkin.maxTagLength };
  }
  const otel = p.opentelemetry as { service?: string; port?: number; maxTagLength?: number; http?: { path?: string; timeout?: string; headers?: { name?: string; value?: string }[] }; grpc?: { timeout?: string; initialMetadata?: { name?: string; value?: string }[] } } | undefined;
  if (otel) {
    const c = lookupCluster(push, otel.service, otel.port);
    if (!c) return undefined;
    const config: JsonObject = { '@type': `${T}envoy.config.trace.v3.OpenTelemetryConfig`, serviceName: serviceName(proxy) };
    if (otel.http) {
      const path = (otel.http.path ?? '').replace(/^\/?/, '/');
      config.httpService = {
        httpUri: { uri: `${c.hostname}${path}`, cluster: c.cluster, timeout: otel.http.timeout ?? '0s' },
        requestHeadersToAdd: (otel.http.headers ?? []).map((h) => ({ header: { key: h.name ?? '', value: h.value ?? '' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
      };
    } else {
      config.grpcService = {
        envoyGrpc: { clusterName: c.cluster, authority: c.hostname },
        ...(otel.grpc?.timeout ? { timeout: otel.grpc.timeout } : {}),
        initialMetadata: (otel.grpc?.initialMetadata ?? []).map((h) => ({ key: h.name ?? '', value: h.value ?? '' })),
      };
    }
    return { provider: { name: 'envoy.tracers.opentelemetry', typedConfig: config }, maxTagLength: otel.maxTagLength };
  }
  return undefined; // datadog, skywalking, ...: not implemented (validation warns)
}

function zipkinTracer(cluster: string, hostname: string, path: string | undefined, traceId128: boolean): JsonObject {
  return {
    name: 'envoy.tracers.zipkin',
    typedConfig: {
      '@type': `${T}envoy.config.trace.v3.ZipkinConfig`,
      collectorCluster: cluster,
      collectorEndpoint: path || '/api/v2/spans',
      traceId_128bit: traceId128,
      sharedSpanContext: false,
      collectorEndpointVersion: 'HTTP_JSON',
      collectorHostname: hostname,
    },
  };
}

/** defaultConfig.tracing.zipkin.address (`HOST:PORT`): Istio's bootstrap tracer, here sent with the HCM. */
function zipkinFromAddress(push: PushContext, address: string): JsonObject | undefined {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  const fqdn = host.split('.').length === 2 ? `${host}.svc.${push.mesh.domainSuffix}` : host;
  const c = lookupCluster(push, fqdn, port) ?? lookupCluster(push, host, port);
  return c ? zipkinTracer(c.cluster, c.hostname, undefined, true) : undefined;
}

// ---- access logs ----

function accessLogs(push: PushContext, proxy: ProxyInfo, cls: ListenerClass): JsonObject[] {
  const specs = push.telemetry.accessLogging(proxy, cls === 'inbound' ? 'SERVER' : 'CLIENT');
  if (specs === undefined) return meshAccessLog(mesh(push));
  const out: JsonObject[] = [];
  for (const s of specs) {
    const entry = accessLogEntry(push, s);
    if (entry) out.push(entry);
  }
  return out;
}

function accessLogEntry(push: PushContext, s: AccessLogSpec): JsonObject | undefined {
  const file = s.provider.envoyFileAccessLog as { path?: string; logFormat?: { text?: string; labels?: Record<string, unknown> }; omitEmptyValues?: boolean } | undefined;
  if (!file) return undefined; // ALS/OTel log providers: not implemented (validation warns)
  let entry: JsonObject;
  if (s.provider.name === 'envoy' && !file.logFormat && !file.omitEmptyValues) {
    // the built-in provider formats as meshConfig.accessLogEncoding/Format say
    entry = meshAccessLog({ ...mesh(push), accessLogFile: file.path ?? '/dev/stdout' })[0]!;
  } else {
    let logFormat: JsonObject;
    if (file.logFormat?.labels) logFormat = { jsonFormat: file.logFormat.labels, jsonFormatOptions: { sortProperties: false } };
    else {
      const text = file.logFormat?.text;
      logFormat = { textFormatSource: { inlineString: text ? (text.endsWith('\n') ? text : `${text}\n`) : ISTIO_ACCESS_LOG_FORMAT } };
    }
    if (file.omitEmptyValues) logFormat.omitEmptyValues = true;
    entry = { name: 'envoy.access_loggers.file', typedConfig: { '@type': `${T}envoy.extensions.access_loggers.file.v3.FileAccessLog`, path: file.path ?? '/dev/stdout', logFormat } };
  }
  if (s.filter) {
    entry = {
      ...entry,
      filter: { extensionFilter: { name: CEL_FILTER, typedConfig: { '@type': `${T}envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter`, expression: s.filter } } },
    };
  }
  return entry;
}

// ---- metrics ----

/**
 * The istio.stats filter config (stats.PluginConfig) from the prometheus provider's merged
 * overrides, or undefined when metrics are off for this class (no filter, as istiod).
 */
function statsConfig(metrics: Map<string, ProviderMetrics>, cls: ListenerClass, waypoint: boolean): JsonObject | undefined {
  for (const [name, pm] of metrics) {
    if (name !== 'prometheus') continue; // stackdriver & co: not implemented
    const side = cls === 'inbound' ? pm.server : pm.client;
    if (side.disabled) return undefined;
    const value: JsonObject = {};
    if (cls === 'inbound' || cls === 'gateway') value.disable_host_header_fallback = true;
    if (waypoint) value.reporter = 'SERVER_GATEWAY';
    else if (cls === 'inbound') value.reporter = 'SERVER';
    if (pm.reportingInterval) value.tcp_reporting_duration = pm.reportingInterval;
    if (side.overrides.length > 0) {
      value.metrics = side.overrides.map((o) => {
        const mc: JsonObject = { name: PROMETHEUS_NAME[o.name] ?? o.name };
        const dims: Record<string, string> = {};
        const remove: string[] = [];
        for (const t of o.tags) {
          if (t.value === undefined) remove.push(t.name);
          else dims[t.name] = t.value;
        }
        if (Object.keys(dims).length > 0) mc.dimensions = dims;
        if (remove.length > 0) mc.tags_to_remove = remove;
        if (o.disabled) mc.drop = true;
        return mc;
      });
    }
    return value;
  }
  return undefined;
}
