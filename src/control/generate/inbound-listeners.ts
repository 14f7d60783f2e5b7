import type { MutualTlsMode } from '../../api/istio/peer-authentication.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { BLACKHOLE_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName } from './cluster-names.ts';
import { ISTIO_ALPN, SDS_DEFAULT, SDS_ROOTCA } from './cluster-tls.ts';
import { tcpMetadataExchangeFilter } from './tcp-metadata-exchange-filter.ts';
import { EXT, sdsSecret, socketAddress, typedFilter, type JsonObject } from './envoy-extensions.ts';
import { httpConnectionManagerFilter, listenerHcmSettings, tcpProxyFilter, type HcmOptions } from './http-connection-manager.ts';
import { hcmTelemetry } from './telemetry-hcm.ts';
import { inboundPorts, type InboundPort } from './inbound-ports.ts';
import { policyFiltersFor, type PolicyFilters } from './policy-filters.ts';
import { isHttpProtocol, isSniffed } from './virtual-hosts.ts';

export const VIRTUAL_INBOUND = 'virtualInbound';
export const VIRTUAL_INBOUND_PORT = 15006;
/** Istio's inbound passthrough source (InboundPassthroughBindIpv4), as an Envoy BindConfig. */
export const INBOUND_PASSTHROUGH_BIND: JsonObject = { sourceAddress: { address: '127.0.0.6', portValue: 0 } };

type Mode = Exclude<MutualTlsMode, 'UNSET'>;

/**
 * `virtualInbound` on 15006: per workload port, filter chains matched on destination port and
 * transport protocol — `tls` (mesh mTLS, client certificate required) and/or `raw_buffer`
 * (plaintext) as the PeerAuthentication mode says (STRICT: tls only; PERMISSIVE: both;
 * DISABLE: plaintext only) — then catch-all chains for other ports to the original destination.
 * HTTP ports run the policy filters (policy-filters.ts), fault, CORS and router to `inbound|PORT||`;
 * TCP ports run network RBAC and tcp_proxy.
 */
export function inboundListener(proxy: ProxyInfo, push: PushContext): JsonObject {
  const mtls = push.mtlsFor(proxy);
  const policy = policyFiltersFor(proxy, push);
  const trustDomains = [...new Set([push.mesh.trustDomain, ...(push.mesh.trustDomainAliases ?? [])])];
  const chains: JsonObject[] = [];
  for (const ip of inboundPorts(proxy, push)) {
    const mode = mtls.ports.get(ip.port) ?? mtls.mode;
    const http = isHttpProtocol(ip.protocol);
    const filters = http ? httpFilters(ip, policy, { ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'inbound') }) : tcpFilters(ip, policy);
    for (const transport of transportsFor(mode)) {
      if (transport === 'raw_buffer' && isSniffed(ip.protocol)) {
        // Undeclared protocol in plaintext: HTTP (seen by http_inspector) gets the HTTP chain.
        chains.push({
          name: `${inboundClusterName(ip.port)}-plaintext-http`,
          filterChainMatch: { destinationPort: ip.port, transportProtocol: transport, applicationProtocols: ['http/1.1', 'h2c'] },
          filters: httpFilters(ip, policy, { ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'inbound') }),
        });
      }
      chains.push({
        name: transport === 'tls' ? inboundClusterName(ip.port) : `${inboundClusterName(ip.port)}-plaintext`,
        filterChainMatch: { destinationPort: ip.port, transportProtocol: transport },
        filters,
        ...(transport === 'tls' ? { transportSocket: downstreamTls(http, trustDomains) } : {}),
      });
    }
  }
  // As Istio: a connection whose destination is 15006 itself is dropped, not passed through to itself.
  chains.push({ name: 'virtualInbound-blackhole', filterChainMatch: { destinationPort: VIRTUAL_INBOUND_PORT }, filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)] });
  const catchAllFilters = [tcpMetadataExchangeFilter(), ...policy.tcp, tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)];
  for (const transport of transportsFor(mtls.mode)) {
    chains.push({
      name: transport === 'tls' ? 'virtualInbound-catchall-tls' : 'virtualInbound-catchall-plaintext',
      filterChainMatch: { transportProtocol: transport },
      filters: catchAllFilters,
      ...(transport === 'tls' ? { transportSocket: downstreamTls(false, trustDomains) } : {}),
    });
  }
  return {
    name: VIRTUAL_INBOUND,
    address: socketAddress('0.0.0.0', VIRTUAL_INBOUND_PORT),
    // As Istio: no use_original_dst; the original_dst listener filter restores the captured destination.
    trafficDirection: 'INBOUND',
    listenerFilters: [typedFilter(EXT.originalDst), typedFilter(EXT.tlsInspector), typedFilter(EXT.httpInspector)],
    filterChains: chains,
  };
}

function transportsFor(mode: Mode): ('tls' | 'raw_buffer')[] {
  if (mode === 'STRICT') return ['tls'];
  if (mode === 'DISABLE') return ['raw_buffer'];
  return ['tls', 'raw_buffer'];
}

/**
 * Server side of mesh mTLS: workload cert, peers verified against the mesh root and accepted only
 * with a SPIFFE identity in the mesh's trust domain or one of its aliases (istiod's
 * TrustDomainsForValidation: `spiffe://TD/` prefixes).
 */
export function downstreamTls(http: boolean, trustDomains: readonly string[]): JsonObject {
  return {
    name: EXT.tlsTransport.name,
    typedConfig: {
      '@type': EXT.tlsTransport.downstream,
      commonTlsContext: {
        tlsCertificateSdsSecretConfigs: [sdsSecret(SDS_DEFAULT)],
        combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: trustDomains.map((td) => ({ prefix: `spiffe://${td}/` })) }, validationContextSdsSecretConfig: sdsSecret(SDS_ROOTCA) },
        // Selection follows the server's order: HTTP chains settle on `istio`, never on
        // istio-peer-exchange (that would make a client send the TCP exchange header to HTTP).
        alpnProtocols: http ? ['h2', 'http/1.1', 'istio', ...ISTIO_ALPN.filter((p) => p !== 'istio')] : ISTIO_ALPN,
      },
      requireClientCertificate: true,
    },
  };
}

function httpFilters(ip: InboundPort, policy: PolicyFilters, settings: ReturnType<typeof listenerHcmSettings> & Pick<HcmOptions, 'telemetry'>): JsonObject[] {
  const cluster = inboundClusterName(ip.port);
  const routeConfig = {
    name: cluster,
    virtualHosts: [{ name: `inbound|http|${ip.port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: '0s', maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' } }, decorator: { operation: `${ip.service.hostname}:${ip.servicePort}/*` } }] }],
    validateClusters: false,
  };
  return [httpConnectionManagerFilter({ statPrefix: `inbound_0.0.0.0_${ip.port}`, routeConfig, preFilters: policy.http, inbound: true, ...settings, http2: ip.protocol === 'HTTP2' || ip.protocol === 'GRPC' })];
}

function tcpFilters(ip: InboundPort, policy: PolicyFilters): JsonObject[] {
  const cluster = inboundClusterName(ip.port);
  return [tcpMetadataExchangeFilter(), ...policy.tcp, tcpProxyFilter(cluster, cluster)];
}

/**
 * `inbound|PORT||` clusters and the inbound passthrough, as Istio (1.10+) generates them: the
 * workload is reached on the captured destination (pod IP and workload port, as without a mesh:
 * an app listening on 127.0.0.1 only is not exposed), from 127.0.0.6 so capture lets it through.
 */
export function inboundClusters(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const out: JsonObject[] = inboundPorts(proxy, push).map((ip) => {
    const name = inboundClusterName(ip.port);
    return {
      name,
      type: 'ORIGINAL_DST',
      connectTimeout: '10s',
      lbPolicy: 'CLUSTER_PROVIDED',
      upstreamBindConfig: INBOUND_PASSTHROUGH_BIND,
      circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295, trackRemaining: true }] },
      metadata: { filterMetadata: { istio: { services: [{ host: ip.service.hostname, name: ip.service.name ?? ip.service.hostname, namespace: ip.service.namespace }] } } },
    };
  });
  // Traffic to a pod port no Service declares goes to the pod IP; the source 127.0.0.6 (Istio's
  // InboundPassthroughBindIpv4) is what istio-init exempts from capture on lo, so the
  // connection is not redirected to 15006 again.
  out.push({
    name: INBOUND_PASSTHROUGH_CLUSTER,
    type: 'ORIGINAL_DST',
    lbPolicy: 'CLUSTER_PROVIDED',
    connectTimeout: '10s',
    circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295, trackRemaining: true }] },
    upstreamBindConfig: INBOUND_PASSTHROUGH_BIND,
  });
  return out;
}
