/**
 * Names and `Any` type URLs of the Envoy extensions the generators emit, and the small config
 * fragments every resource repeats (ADS config source, SDS secret references, typed filters).
 */
const T = 'type.googleapis.com/';

export const EXT = Object.freeze({
  httpConnectionManager: { name: 'envoy.filters.network.http_connection_manager', type: `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager` },
  tcpProxy: { name: 'envoy.filters.network.tcp_proxy', type: `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy` },
  networkRbac: { name: 'envoy.filters.network.rbac', type: `${T}envoy.extensions.filters.network.rbac.v3.RBAC` },
  router: { name: 'envoy.filters.http.router', type: `${T}envoy.extensions.filters.http.router.v3.Router` },
  fault: { name: 'envoy.filters.http.fault', type: `${T}envoy.extensions.filters.http.fault.v3.HTTPFault` },
  cors: { name: 'envoy.filters.http.cors', type: `${T}envoy.extensions.filters.http.cors.v3.Cors` },
  corsPolicy: { name: 'envoy.filters.http.cors', type: `${T}envoy.extensions.filters.http.cors.v3.CorsPolicy` },
  httpRbac: { name: 'envoy.filters.http.rbac', type: `${T}envoy.extensions.filters.http.rbac.v3.RBAC` },
  extAuthz: { name: 'envoy.filters.http.ext_authz', type: `${T}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz` },
  networkExtAuthz: { name: 'envoy.filters.network.ext_authz', type: `${T}envoy.extensions.filters.network.ext_authz.v3.ExtAuthz` },
  uriTemplate: { name: 'envoy.path.match.uri_template.uri_template_matcher', type: `${T}envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig` },
  jwtAuthn: { name: 'envoy.filters.http.jwt_authn', type: `${T}envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication` },
  originalDst: { name: 'envoy.filters.listener.original_dst', type: `${T}envoy.extensions.filters.listener.original_dst.v3.OriginalDst` },
  tlsInspector: { name: 'envoy.filters.listener.tls_inspector', type: `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` },
  httpInspector: { name: 'envoy.filters.listener.http_inspector', type: `${T}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector` },
  tlsTransport: { name: 'envoy.transport_sockets.tls', upstream: `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`, downstream: `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext` },
  rawBuffer: { name: 'envoy.transport_sockets.raw_buffer', type: `${T}envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer` },
  upstreamProxyProtocol: { name: 'envoy.transport_sockets.upstream_proxy_protocol', type: `${T}envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport` },
  previousHosts: { name: 'envoy.retry_host_predicates.previous_hosts', type: `${T}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate` },
  httpProtocolOptions: { name: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions', type: `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions` },
  grpcStats: { name: 'envoy.filters.http.grpc_stats', type: `${T}envoy.extensions.filters.http.grpc_stats.v3.FilterConfig` },
  istioAlpn: { name: 'istio.alpn', type: `${T}istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig` },
  uuidRequestId: { name: 'envoy.request_id.uuid', type: `${T}envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig` },
});

export type JsonObject = Record<string, unknown>;

/**
 * `{ads: {}}`: fetch the referenced resource over the same ADS stream. Envoy proxies get
 * `initial_fetch_timeout: 0s` as istiod sends it (wait for RDS/EDS however long discovery takes,
 * instead of warming with nothing after Envoy's default 15 s); proxyless gRPC clients get the bare form.
 */
export function adsConfigSource(opts: { grpc?: boolean } = {}): JsonObject {
  return opts.grpc ? { ads: {}, resourceApiVersion: 'V3' } : { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' };
}

/** A named filter with its typed config. */
export function typedFilter(ext: { name: string; type: string }, config: JsonObject = {}): JsonObject {
  return { name: ext.name, typedConfig: { '@type': ext.type, ...config } };
}

/** SDS reference to a secret served by the proxy's agent (`default`, `ROOTCA`, `kubernetes://NAME`). */
export function sdsSecret(name: string): JsonObject {
  return {
    name,
    sdsConfig: {
      apiConfigSource: { apiType: 'GRPC', transportApiVersion: 'V3', grpcServices: [{ envoyGrpc: { clusterName: 'sds-grpc' } }], setNodeOnFirstMessageOnly: true },
      initialFetchTimeout: '0s',
      resourceApiVersion: 'V3',
    },
  };
}

/** Envoy socket address. */
export function socketAddress(address: string, port: number): JsonObject {
  return { socketAddress: { address, portValue: port } };
}

/** Istio percentages (0..100, fractional) as Envoy FractionalPercent over a million. */
export function fractionalPercent(percent: number): JsonObject {
  return { numerator: Math.round(Math.max(0, Math.min(100, percent)) * 10000), denominator: 'MILLION' };
}

/** Protobuf JSON Duration from Istio's duration strings (`1s`, `500ms`, `1m`, `1h`). */
export function duration(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns)$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const seconds = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 }[m[2] as 'h'] * n;
  return `${Number(seconds.toFixed(9))}s`;
}
