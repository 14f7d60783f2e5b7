import type { PathNormalizationType } from '../config/mesh-config.ts';
import type { PushMeshConfig } from '../push/push-context.ts';
import { EXT, adsConfigSource, typedFilter, type JsonObject } from './envoy-extensions.ts';

export interface HcmOptions {
  statPrefix: string;
  /** RDS route config name, or an inline route configuration. */
  rds?: string;
  routeConfig?: JsonObject;
  /** Filters before fault/cors/router (authn, authz). */
  preFilters?: JsonObject[];
  /** Proxyless gRPC: fault and router only, as istiod (clients NACK unknown non-optional filters). */
  grpc?: boolean;
  /** Inbound: forward the peer certificate details (XFCC) as Istio's sidecars do. */
  inbound?: boolean;
  /** HCM `access_log` entries (see `meshAccessLog`). */
  accessLog?: JsonObject[];
  /**
   * Tracing, access logs and the istio.stats config from Telemetry/MeshConfig (telemetry-hcm.ts);
   * when given, its access logs replace `accessLog` and a missing stats config drops istio.stats.
   */
  telemetry?: { tracing: JsonObject | undefined; accessLog: JsonObject[]; stats: JsonObject | undefined };
  /** meshConfig.pathNormalization.normalization (unset: BASE). */
  pathNormalization?: PathNormalizationType;
  /** Accept HTTP/1.0 (istiod: proxy metadata HTTP10 = "1"); else Envoy answers 426. */
  http10?: boolean;
  /** Inbound HTTP/2 or gRPC port: explicit HTTP/2 options, as istiod. */
  http2?: boolean;
  /** A gateway's HCM: the client's address counts (XFF), XFCC sanitized and set, Istio's server header. */
  gateway?: boolean;
}

/**
 * The HCM settings istiod takes from the mesh and the proxy for every sidecar and gateway HTTP
 * listener: access log, path normalization, HTTP/1.0 (`ISTIO_META_HTTP10=1` on the proxy).
 */
export function listenerHcmSettings(proxy: { metadata: Readonly<Record<string, unknown>> }, mesh: PushMeshConfig): Pick<HcmOptions, 'accessLog' | 'pathNormalization' | 'http10'> {
  return { accessLog: meshAccessLog(mesh), pathNormalization: mesh.pathNormalization?.normalization, http10: proxy.metadata.HTTP10 === '1' };
}

/** Istio's default access log format (meshConfig.accessLogFormat unset, TEXT encoding). */
export const ISTIO_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% ' +
  '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

const ISTIO_ACCESS_LOG_JSON: Record<string, string> = {
  start_time: '%START_TIME%', method: '%REQ(:METHOD)%', path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%', response_flags: '%RESPONSE_FLAGS%', response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%', upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
  bytes_received: '%BYTES_RECEIVED%', bytes_sent: '%BYTES_SENT%', duration: '%DURATION%', upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%', user_agent: '%REQ(USER-AGENT)%', request_id: '%REQ(X-REQUEST-ID)%', authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%', upstream_cluster: '%UPSTREAM_CLUSTER_RAW%', upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%', downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%', route_name: '%ROUTE_NAME%',
};

/**
 * meshConfig.accessLogFile / accessLogEncoding / accessLogFormat → the HCM `access_log` list Istio
 * generates (one envoy.access_loggers.file entry), or none when no file is configured.
 */
export function meshAccessLog(mesh: { accessLogFile?: string; accessLogEncoding?: 'TEXT' | 'JSON'; accessLogFormat?: string }): JsonObject[] {
  if (!mesh.accessLogFile) return [];
  const logFormat = mesh.accessLogEncoding === 'JSON'
    ? { jsonFormat: ISTIO_ACCESS_LOG_JSON }
    : { textFormatSource: { inlineString: mesh.accessLogFormat ? (mesh.accessLogFormat.endsWith('\n') ? mesh.accessLogFormat : `${mesh.accessLogFormat}\n`) : ISTIO_ACCESS_LOG_FORMAT } };
  return [{ name: 'envoy.access_loggers.file', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: mesh.accessLogFile, logFormat } }];
}

const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';

/**
 * Istio's `istio.metadata_exchange` (peer_metadata): inbound learns the client from request
 * headers and answers with its own metadata; outbound (and gateways) send theirs upstream and
 * learn the server from the response.
 */
export function metadataExchangeFilter(inbound: boolean): JsonObject {
  const value = inbound
    ? { downstream_discovery: [{ istio_headers: {} }, { workload_discovery: {} }], downstream_propagation: [{ istio_headers: {} }] }
    : { upstream_discovery: [{ istio_headers: {} }, { workload_discovery: {} }], upstream_propagation: [{ istio_headers: {} }] };
  return { name: 'istio.metadata_exchange', typedConfig: { '@type': TYPED_STRUCT, typeUrl: 'type.googleapis.com/io.istio.http.peer_metadata.Config', value } };
}

/** Istio's `istio.stats` (metrics with reporter by direction; `config`: Telemetry's PluginConfig). */
export function statsFilter(inbound: boolean, config?: JsonObject): JsonObject {
  return { name: 'istio.stats', typedConfig: { '@type': TYPED_STRUCT, typeUrl: 'type.googleapis.com/stats.PluginConfig', value: config ?? (inbound ? { reporter: 'SERVER' } : {}) } };
}

/** istiod's grpc_stats filter: per-message counts into filter state (for telemetry), no per-method stats. */
export const GRPC_STATS_FILTER: JsonObject = typedFilter(EXT.grpcStats, { emitFilterState: true, statsForAllMethods: false });

/**
 * istiod's `istio.alpn` on outbound HTTP (sidecar outbound and gateways, never inbound): over mesh
 * mTLS, an upstream connection offers `istio-http/1.0`, `istio-http/1.1` or `istio-h2` for its
 * HTTP version, so the server's filter chains can tell HTTP from other mesh TCP. Mizzen's proxy
 * does the same for every mesh-mTLS HTTP pool (data/tls/istio-alpn.ts) and ignores this config.
 */
export const ISTIO_ALPN_FILTER: JsonObject = typedFilter(EXT.istioAlpn, {
  alpnOverride: [
    // HTTP10 is the enum's zero value: left unset, as on istiod's wire
    { alpnOverride: ['istio-http/1.0', 'istio', 'http/1.0'] },
    { upstreamProtocol: 'HTTP11', alpnOverride: ['istio-http/1.1', 'istio', 'http/1.1'] },
    { upstreamProtocol: 'HTTP2', alpnOverride: ['istio-h2', 'istio', 'h2'] },
  ],
});

/** HTTP filters in Istio's order: metadata exchange, authn/authz, gRPC stats, ALPN (outbound), fault, CORS, stats, router last. */
export function httpFilters(opts: Pick<HcmOptions, 'preFilters' | 'grpc' | 'inbound' | 'telemetry'>): JsonObject[] {
  // gRPC implements Envoy's fault filter (gRFC A33): VirtualService faults reach proxyless clients.
  if (opts.grpc) return [...(opts.preFilters ?? []), typedFilter(EXT.fault), typedFilter(EXT.router)];
  const inbound = opts.inbound === true;
  const stats = opts.telemetry ? (opts.telemetry.stats ? [statsFilter(inbound, opts.telemetry.stats)] : []) : [statsFilter(inbound)];
  const alpn = inbound ? [] : [ISTIO_ALPN_FILTER];
  return [metadataExchangeFilter(inbound), ...(opts.preFilters ?? []), GRPC_STATS_FILTER, ...alpn, typedFilter(EXT.fault), typedFilter(EXT.cors), ...stats, typedFilter(EXT.router)];
}

/** The HttpConnectionManager typed config (the `Any` body). */
export function httpConnectionManagerConfig(opts: HcmOptions): JsonObject {
  const out: JsonObject = { '@type': EXT.httpConnectionManager.type, statPrefix: opts.statPrefix };
  if (opts.rds !== undefined) out.rds = { routeConfigName: opts.rds, configSource: adsConfigSource({ grpc: opts.grpc }) };
  else out.routeConfig = opts.routeConfig ?? { name: opts.statPrefix, virtualHosts: [] };
  out.httpFilters = httpFilters(opts);
  const accessLog = opts.telemetry ? opts.telemetry.accessLog : opts.accessLog;
  if (accessLog && accessLog.length > 0) out.accessLog = accessLog;
  if (opts.telemetry?.tracing && !opts.grpc) out.tracing = opts.telemetry.tracing;
  if (!opts.grpc) {
    out.useRemoteAddress = false;
    Object.assign(out, pathNormalizationFields(opts.pathNormalization));
    if (opts.http10) out.httpProtocolOptions = { acceptHttp10: true };
    else if (opts.gateway) out.httpProtocolOptions = {};
    // As istiod: WebSocket upgrades allowed (else 403), no stream idle timeout (long gRPC/SSE
    // streams would be reset after Envoy's default 5 minutes), Expect: 100-continue forwarded to
    // the app, UUID request ids.
    out.upgradeConfigs = [{ upgradeType: 'websocket' }];
    out.streamIdleTimeout = '0s';
    out.requestIdExtension = { typedConfig: { '@type': EXT.uuidRequestId.type, useRequestIdForTraceSampling: true } };
    out.proxy100Continue = true;
    if (opts.inbound) {
      // The caller's identity for the app (XFCC), and Istio's server header.
      out.forwardClientCertDetails = 'APPEND_FORWARD';
      out.setCurrentClientCertDetails = { subject: true, dns: true, uri: true };
      out.serverName = 'istio-envoy';
      if (opts.http2) out.http2ProtocolOptions = {};
    }
    if (opts.gateway) {
      // istiod's gateway HCM: the edge (use_remote_address), meshConfig gatewayTopology's default
      // XFCC handling (SANITIZE_SET: the client's certificate details, when it sent one).
      out.useRemoteAddress = true;
      out.forwardClientCertDetails = 'SANITIZE_SET';
      out.setCurrentClientCertDetails = { subject: true, cert: true, dns: true, uri: true };
      out.serverName = 'istio-envoy';
    }
  }
  return out;
}

/**
 * meshConfig.pathNormalization → the HCM's normalize_path / merge_slashes /
 * path_with_escaped_slashes_action, as istiod maps each mode (escaped slashes are kept unless
 * DECODE_AND_MERGE_SLASHES).
 */
export function pathNormalizationFields(mode: PathNormalizationType | undefined): JsonObject {
  switch (mode) {
    case 'NONE': return { normalizePath: false, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'MERGE_SLASHES': return { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'DECODE_AND_MERGE_SLASHES': return { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' };
    default: return { normalizePath: true, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
  }
}

/** As a network filter in a filter chain. */
export function httpConnectionManagerFilter(opts: HcmOptions): JsonObject {
  return { name: EXT.httpConnectionManager.name, typedConfig: httpConnectionManagerConfig(opts) };
}

/** tcp_proxy to one cluster or weighted clusters (`tunnelingConfig`: a DestinationRule's tunnel, see tunneling-config.ts). */
export function tcpProxyFilter(statPrefix: string, target: string | { name: string; weight: number }[], tunnelingConfig?: JsonObject): JsonObject {
  const config: JsonObject = { '@type': EXT.tcpProxy.type, statPrefix };
  if (typeof target === 'string') config.cluster = target;
  else config.weightedClusters = { clusters: target };
  if (tunnelingConfig) config.tunnelingConfig = tunnelingConfig;
  return { name: EXT.tcpProxy.name, typedConfig: config };
}
