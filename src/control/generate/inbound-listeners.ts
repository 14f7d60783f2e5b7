import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { BLACKHOLE_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName } from './cluster-names.ts';
import { ISTIO_ALPN, MESH_TLS_PARAMS, SDS_DEFAULT, SDS_ROOTCA } from './cluster-tls.ts';
import { MX_ALPN, tcpMetadataExchangeFilter } from './tcp-metadata-exchange-filter.ts';
import { EXT, sdsSecret, socketAddress, typedFilter, type JsonObject } from './envoy-extensions.ts';
import { httpConnectionManagerFilter, listenerHcmSettings, tcpProxyFilter, type HcmOptions } from './http-connection-manager.ts';
import { hcmTelemetry } from './telemetry-hcm.ts';
import { inboundPorts, type InboundPort } from './inbound-ports.ts';
import { PASSTHROUGH_PROTOCOL_OPTIONS } from './outbound-clusters.ts';
import { connectionPoolFields } from './cluster-traffic-policy.ts';
import { policyFiltersFor, type PolicyFilters } from './policy-filters.ts';
import { isHttpProtocol, isSniffed } from './virtual-hosts.ts';
import { serverTlsSocket } from './server-tls-socket.ts';

export const VIRTUAL_INBOUND = 'virtualInbound';
export const VIRTUAL_INBOUND_PORT = 15006;
/** Istio's inbound passthrough source (InboundPassthroughBindIpv4), as an Envoy BindConfig. */
export const INBOUND_PASSTHROUGH_BIND: JsonObject = { sourceAddress: { address: '127.0.0.6', portValue: 0 } };

/**
 * `virtualInbound` on 15006, in istiod's shape: per workload port, chains `0.0.0.0_PORT` matched on
 * destination port and transport — `tls` (mesh mTLS, client certificate required; under PERMISSIVE
 * only with Istio's ALPN) and/or `raw_buffer` as the PeerAuthentication mode says — then catch-alls
 * for ports no Service declares: HTTP at L7 (`virtualInbound-catchall-http`), the rest relayed to
 * the original destination (`virtualInbound`), non-mesh TLS untouched under PERMISSIVE.
 * HTTP chains run the policy filters (policy-filters.ts), fault, CORS and router; TCP chains
 * network RBAC and tcp_proxy.
 */
export function inboundListener(proxy: ProxyInfo, push: PushContext): JsonObject {
  const mtls = push.mtlsFor(proxy);
  const policy = policyFiltersFor(proxy, push);
  const trust = [...new Set([push.mesh.trustDomain, ...(push.mesh.trustDomainAliases ?? [])])];
  const settings: InboundHcmSettings = { ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'inbound') };
  const chains: JsonObject[] = [];
  // As Istio: a connection whose destination is 15006 itself is dropped, not passed through to itself.
  chains.push({ name: 'virtualInbound-blackhole', filterChainMatch: { destinationPort: VIRTUAL_INBOUND_PORT }, filters: [tcpMetadataExchangeFilter(), tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)] });
  // Ports no Service declares: HTTP (mesh mTLS from an Envoy with Istio's ALPN, or plaintext) is
  // handled at L7 to the original destination; other mesh mTLS terminated and relayed; plaintext and,
  // under PERMISSIVE, TLS that is not the mesh's (the app's own) passed through untouched.
  const catchAllHttp = httpFilters({ cluster: INBOUND_PASSTHROUGH_CLUSTER, vhost: 'inbound|http|0', operation: ':0/*', statPrefix: INBOUND_PASSTHROUGH_CLUSTER, http2: false }, policy, settings);
  const catchAllTcp = [tcpMetadataExchangeFilter(), ...policy.tcp, tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)];
  const mode = mtls.mode;
  if (mode !== 'DISABLE') chains.push({ name: 'virtualInbound-catchall-http', filterChainMatch: { transportProtocol: 'tls', applicationProtocols: ISTIO_HTTP_ALPN }, filters: catchAllHttp, transportSocket: downstreamTls(true, trust) });
  if (mode !== 'STRICT') chains.push({ name: 'virtualInbound-catchall-http', filterChainMatch: { transportProtocol: 'raw_buffer', applicationProtocols: SNIFFED_HTTP }, filters: catchAllHttp });
  if (mode === 'PERMISSIVE') chains.push({ name: VIRTUAL_INBOUND, filterChainMatch: { transportProtocol: 'tls', applicationProtocols: ISTIO_ALPN }, filters: catchAllTcp, transportSocket: downstreamTls(false, trust) });
  if (mode !== 'STRICT') chains.push({ name: VIRTUAL_INBOUND, filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: catchAllTcp });
  chains.push({ name: VIRTUAL_INBOUND, filterChainMatch: { transportProtocol: 'tls' }, filters: catchAllTcp, ...(mode === 'STRICT' ? { transportSocket: downstreamTls(false, trust) } : {}) });
  for (const ip of inboundPorts(proxy, push)) {
    if (!ip.bindToPort) chains.push(...portChains(ip, mtls, policy, settings, trust));
  }
  return {
    name: VIRTUAL_INBOUND,
    address: socketAddress('0.0.0.0', VIRTUAL_INBOUND_PORT),
    // As Istio: no use_original_dst; the original_dst listener filter restores the captured destination.
    trafficDirection: 'INBOUND',
    listenerFilters: [typedFilter(EXT.originalDst), typedFilter(EXT.tlsInspector), typedFilter(EXT.httpInspector)],
    listenerFiltersTimeout: '0s',
    continueOnListenerFiltersTimeout: true,
    maxConnectionsToAcceptPerSocketEvent: 1,
    filterChains: chains,
  };
}

/** The chains of one workload port (`BIND_PORT`, bind 0.0.0.0 unless a Sidecar ingress says), matched on destination port and transport as its mTLS mode says. */
function portChains(ip: InboundPort, mtls: ReturnType<PushContext['mtlsFor']>, policy: PolicyFilters, settings: InboundHcmSettings, trust: readonly string[]): JsonObject[] {
  const chains: JsonObject[] = [];
  const portMode = mtls.ports.get(ip.port) ?? mtls.mode;
  const http = isHttpProtocol(ip.protocol);
  const name = `${ip.bind ?? '0.0.0.0'}_${ip.port}`;
  const portHttp = (): JsonObject[] => httpFilters({ cluster: inboundClusterName(ip.port), vhost: `inbound|http|${ip.port}`, operation: `${ip.service.hostname}:${ip.servicePort}/*`, statPrefix: `inbound_${name}`, http2: ip.protocol === 'HTTP2' || ip.protocol === 'GRPC' }, policy, settings);
  const filters = http ? portHttp() : tcpFilters(ip, policy);
  // Sidecar ingress `tls` (ENABLE_TLS_ON_SIDECAR_INGRESS), only where mesh mTLS is off, as istiod
  if (ip.tls && portMode === 'DISABLE') return [{ name, filterChainMatch: { destinationPort: ip.port, transportProtocol: 'tls' }, filters, transportSocket: serverTlsSocket(ip.tls) }];
  if (portMode !== 'DISABLE') {
    // Undeclared protocol over mesh mTLS, as istiod: an Envoy client sending HTTP offers Istio's
    // HTTP ALPN and gets the HTTP chain; other mesh TLS (istio, istio-peer-exchange) the TCP one.
    const sniffed = isSniffed(ip.protocol);
    if (sniffed) chains.push({ name, filterChainMatch: { destinationPort: ip.port, transportProtocol: 'tls', applicationProtocols: ISTIO_HTTP_ALPN }, filters: portHttp(), transportSocket: downstreamTls(true, trust) });
    // PERMISSIVE: only the mesh's TLS (Istio's ALPN) is terminated here; other TLS passes through.
    const alpn = sniffed ? ISTIO_ALPN : ISTIO_ALPN_PORT;
    const match: JsonObject = { destinationPort: ip.port, transportProtocol: 'tls', ...(portMode === 'PERMISSIVE' ? { applicationProtocols: [...alpn] } : {}) };
    chains.push({ name, filterChainMatch: match, filters, transportSocket: downstreamTls(http, trust) });
  }
  if (portMode !== 'STRICT') {
    // Undeclared protocol in plaintext: HTTP (seen by http_inspector) gets the HTTP chain.
    if (isSniffed(ip.protocol)) chains.push({ name, filterChainMatch: { destinationPort: ip.port, transportProtocol: 'raw_buffer', applicationProtocols: SNIFFED_HTTP }, filters: portHttp() });
    chains.push({ name, filterChainMatch: { destinationPort: ip.port, transportProtocol: 'raw_buffer' }, filters });
  }
  return chains;
}

/**
 * Sidecar ingress ports with `captureMode: NONE`, as istiod's inboundCustomListener: a listener
 * of their own, `BIND_PORT` bound on the ingress `bind` (else the workload's IP), that the
 * application's clients reach without capture: the port's chains, no original_dst (the
 * destination is the listener's own), the inspectors the chains need.
 */
export function boundInboundListeners(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const bound = inboundPorts(proxy, push).filter((ip) => ip.bindToPort);
  if (bound.length === 0) return [];
  const mtls = push.mtlsFor(proxy);
  const policy = policyFiltersFor(proxy, push);
  const trust = [...new Set([push.mesh.trustDomain, ...(push.mesh.trustDomainAliases ?? [])])];
  const settings: InboundHcmSettings = { ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'inbound') };
  return bound.map((ip) => {
    const chains = portChains(ip, mtls, policy, settings, trust);
    const match = (c: JsonObject): JsonObject => c.filterChainMatch as JsonObject;
    const listenerFilters = [
      ...(chains.some((c) => match(c).transportProtocol === 'tls') ? [typedFilter(EXT.tlsInspector)] : []),
      ...(chains.some((c) => ((match(c).applicationProtocols as string[] | undefined) ?? []).some((p) => SNIFFED_HTTP.includes(p))) ? [typedFilter(EXT.httpInspector)] : []),
    ];
    return {
      name: `${ip.bind}_${ip.port}`,
      address: socketAddress(ip.bind!, ip.port),
      trafficDirection: 'INBOUND',
      continueOnListenerFiltersTimeout: true,
      maxConnectionsToAcceptPerSocketEvent: 1,
      ...(listenerFilters.length > 0 ? { listenerFilters } : {}),
      listenerFiltersTimeout: '0s',
      filterChains: chains,
    };
  });
}

/** The internal listener HBONE tunnels are handed to (Istio's name, as for waypoints). */
export const MAIN_INTERNAL = 'main_internal';

/**
 * A sidecar's HBONE inbound (istiod's buildInboundHBONEListeners, for proxies with
 * `ISTIO_META_ENABLE_HBONE=true`): the tunnels its `connect_terminate` end accepts on 15008 (mTLS
 * with the client's own identity, e.g. from ztunnel) arrive on the internal listener
 * `main_internal` with the CONNECT authority as destination. Its chains are the workload's
 * inbound chains without TLS (the tunnel was the mTLS, so PeerAuthentication has nothing left to
 * refuse; AuthorizationPolicy sees the tunnel's peer principal), matched on destination port and
 * the workload's own addresses only, then the passthrough chains for undeclared ports.
 */
export function hboneInboundListener(proxy: ProxyInfo, push: PushContext): JsonObject {
  const policy = policyFiltersFor(proxy, push);
  const settings: InboundHcmSettings = { ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'inbound') };
  const prefixRanges = proxy.ipAddresses.map((a) => ({ addressPrefix: a, prefixLen: a.includes(':') ? 128 : 32 }));
  const chains: JsonObject[] = [];
  for (const ip of inboundPorts(proxy, push)) {
    const name = `0.0.0.0_${ip.port}`;
    const portHttp = (): JsonObject[] => httpFilters({ cluster: inboundClusterName(ip.port), vhost: `inbound|http|${ip.port}`, operation: `${ip.service.hostname}:${ip.servicePort}/*`, statPrefix: `inbound_0.0.0.0_${ip.port}`, http2: ip.protocol === 'HTTP2' || ip.protocol === 'GRPC' }, policy, settings);
    if (isSniffed(ip.protocol)) chains.push({ name, filterChainMatch: { prefixRanges, destinationPort: ip.port, applicationProtocols: SNIFFED_HTTP }, filters: portHttp() });
    chains.push({ name, filterChainMatch: { prefixRanges, destinationPort: ip.port }, filters: isHttpProtocol(ip.protocol) ? portHttp() : tcpFilters(ip, policy) });
  }
  const catchAllHttp = httpFilters({ cluster: INBOUND_PASSTHROUGH_CLUSTER, vhost: 'inbound|http|0', operation: ':0/*', statPrefix: INBOUND_PASSTHROUGH_CLUSTER, http2: false }, policy, settings);
  chains.push({ name: 'virtualInbound-catchall-http', filterChainMatch: { prefixRanges, applicationProtocols: SNIFFED_HTTP }, filters: catchAllHttp });
  chains.push({ name: VIRTUAL_INBOUND, filterChainMatch: { prefixRanges }, filters: [tcpMetadataExchangeFilter(), ...policy.tcp, tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)] });
  return {
    name: MAIN_INTERNAL,
    internalListener: {},
    trafficDirection: 'INBOUND',
    listenerFilters: [typedFilter(EXT.originalDst), typedFilter(EXT.httpInspector)],
    continueOnListenerFiltersTimeout: true,
    filterChains: chains,
  };
}

/** ALPN an Envoy client offers for HTTP over mesh mTLS (istio.alpn filter). */
const ISTIO_HTTP_ALPN = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
/** ALPN that marks a declared port's TLS as the mesh's under PERMISSIVE. */
const ISTIO_ALPN_PORT = ['istio', 'istio-peer-exchange', ...ISTIO_HTTP_ALPN];
/** Plaintext HTTP as http_inspector reports it. */
const SNIFFED_HTTP = ['http/1.1', 'h2c'];

/** istiod's TLS 1.2 cipher suites for mesh mTLS servers (TLS 1.3 suites are OpenSSL's). */
const MESH_CIPHER_SUITES = ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256'];

/** Server side of mesh mTLS: workload cert, peers of the mesh's trust domains verified against the mesh root. */
export function downstreamTls(http: boolean, trustDomains: readonly string[]): JsonObject {
  const domains = trustDomains;
  return {
    name: EXT.tlsTransport.name,
    typedConfig: {
      '@type': EXT.tlsTransport.downstream,
      commonTlsContext: {
        tlsParams: { ...MESH_TLS_PARAMS, cipherSuites: MESH_CIPHER_SUITES },
        tlsCertificateSdsSecretConfigs: [sdsSecret(SDS_DEFAULT)],
        combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: domains.map((d) => ({ prefix: `spiffe://${d}/` })) }, validationContextSdsSecretConfig: sdsSecret(SDS_ROOTCA) },
        // HTTP: selection follows the server's order and settles on `istio`, never on
        // istio-peer-exchange (that would make a client send the TCP exchange header to HTTP). istiod
        // sends [h2, http/1.1] (Envoy clients offer istio-http/*); Node's TLS refuses a handshake with
        // no common ALPN where Envoy's just selects none, so `istio` stays listed for Mizzen's clients.
        alpnProtocols: http ? ['h2', 'http/1.1', 'istio', ...ISTIO_ALPN.filter((p) => p !== 'istio')] : [MX_ALPN, 'h2', 'http/1.1'],
      },
      requireClientCertificate: true,
    },
  };
}


interface InboundHttpTarget {
  cluster: string;
  vhost: string;
  /** Tracing operation (istiod's decorator). */
  operation: string;
  statPrefix: string;
  http2: boolean;
}

type InboundHcmSettings = ReturnType<typeof listenerHcmSettings> & Pick<HcmOptions, 'telemetry'>;

function httpFilters(t: InboundHttpTarget, policy: PolicyFilters, settings: InboundHcmSettings): JsonObject[] {
  const routeConfig = {
    name: t.cluster,
    virtualHosts: [{
      name: t.vhost,
      domains: ['*'],
      routes: [{
        name: 'default',
        match: { prefix: '/' },
        // istiod's inbound retry: a request the app's socket reset before reading it is sent again.
        route: { cluster: t.cluster, timeout: '0s', retryPolicy: { retryOn: 'reset-before-request', numRetries: 2 }, maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' } },
        decorator: { operation: t.operation },
      }],
    }],
    validateClusters: false,
  };
  return [tcpMetadataExchangeFilter(), httpConnectionManagerFilter({ statPrefix: t.statPrefix, routeConfig, preFilters: policy.http, inbound: true, ...settings, http2: t.http2 })];
}

function tcpFilters(ip: InboundPort, policy: PolicyFilters): JsonObject[] {
  const cluster = inboundClusterName(ip.port);
  return [tcpMetadataExchangeFilter(), ...policy.tcp, tcpProxyFilter(cluster, cluster)];
}

/**
 * `inbound|PORT||` clusters and the inbound passthrough, as Istio (1.10+) generates them: the
 * workload is reached on the captured destination (pod IP and workload port, as without a mesh:
 * an app listening on 127.0.0.1 only is not exposed), from 127.0.0.6 so capture lets it through.
 * A Sidecar ingress `defaultEndpoint` makes it a STATIC cluster to that address instead (loopback
 * without the 127.0.0.6 bind), and its connection pool (or `inboundConnectionPool`) applies.
 */
export function inboundClusters(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const out: JsonObject[] = inboundPorts(proxy, push).map((ip) => {
    const name = inboundClusterName(ip.port);
    const metadata = { filterMetadata: { istio: { services: [{ host: ip.service.hostname, name: ip.service.name ?? ip.service.hostname, namespace: ip.service.namespace }] } } };
    const target = ip.defaultEndpoint ? defaultEndpointAddress(ip.defaultEndpoint, proxy) : undefined;
    const cluster: JsonObject = target
      ? {
        name,
        type: 'STATIC',
        connectTimeout: '10s',
        loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: socketAddress(target.address, target.port) } }] }] },
        ...(target.loopback ? {} : { upstreamBindConfig: INBOUND_PASSTHROUGH_BIND }),
        circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 }] },
        commonLbConfig: {},
        metadata,
      }
      : {
        name,
        type: 'ORIGINAL_DST',
        connectTimeout: '10s',
        lbPolicy: 'CLUSTER_PROVIDED',
        upstreamBindConfig: INBOUND_PASSTHROUGH_BIND,
        circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 }] },
        // Envoy's ORIGINAL_DST host cleanup, effectively never (istiod's value): one destination per cluster.
        cleanupInterval: '9223372035s',
        commonLbConfig: {},
        metadata,
      };
    if (ip.connectionPool) Object.assign(cluster, connectionPoolFields(ip.connectionPool, false, '10s'));
    return cluster;
  });
  // Traffic to a pod port no Service declares goes to the pod IP; the source 127.0.0.6 (Istio's
  // InboundPassthroughBindIpv4) is what istio-init exempts from capture on lo, so the
  // connection is not redirected to 15006 again.
  out.push({
    name: INBOUND_PASSTHROUGH_CLUSTER,
    type: 'ORIGINAL_DST',
    lbPolicy: 'CLUSTER_PROVIDED',
    connectTimeout: '10s',
    circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 }] },
    upstreamBindConfig: INBOUND_PASSTHROUGH_BIND,
    typedExtensionProtocolOptions: PASSTHROUGH_PROTOCOL_OPTIONS,
  });
  return out;
}

/**
 * Sidecar ingress `defaultEndpoint` → the endpoint, as istiod: `0.0.0.0:PORT` / `[::]:PORT` is the
 * workload's own IP, `127.0.0.1:PORT` / `[::1]:PORT` loopback. Validation refuses other addresses;
 * `unix://` sockets are warned about and traffic goes to the original destination.
 */
function defaultEndpointAddress(spec: string, proxy: ProxyInfo): { address: string; port: number; loopback: boolean } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(spec);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (host === '127.0.0.1' || host === '::1') return { address: host, port, loopback: true };
  if (host === '0.0.0.0') {
    const own = proxy.ipAddresses.find((a) => !a.includes(':'));
    return own ? { address: own, port, loopback: false } : { address: '127.0.0.1', port, loopback: true };
  }
  if (host === '::') {
    const own = proxy.ipAddresses.find((a) => a.includes(':'));
    return own ? { address: own, port, loopback: false } : { address: '::1', port, loopback: true };
  }
  return undefined;
}
