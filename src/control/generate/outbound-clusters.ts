import type { Subset } from '../../api/istio/destination-rule.ts';
import type { DestinationRuleView } from '../push/destination-rule-index.ts';
import type { PushContext } from '../push/push-context.ts';
import type { Endpoint, Service, ServicePort } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER, outboundClusterName } from './cluster-names.ts';
import { clusterTlsFields, istioSni } from './cluster-tls.ts';
import { connectionPoolFields, effectivePolicy, loadBalancerFields, outlierDetectionFields, shouldH2Upgrade, wrapProxyProtocol } from './cluster-traffic-policy.ts';
import { EXT, adsConfigSource, type JsonObject } from './envoy-extensions.ts';
import { tcpMetadataExchangeFilter } from './tcp-metadata-exchange-filter.ts';
import { grpcUpstreamTls } from './grpc-security.ts';
import { localityLbEndpoints } from './load-assignment.ts';
import { effectiveLocalityLb, wantsLocalityWeights } from './locality-lb.ts';
import { serviceIdentities } from '../registry/service-identities.ts';
import { isSniffed } from './virtual-hosts.ts';

const HTTP2_PROTOCOLS = new Set(['HTTP2', 'GRPC']);
/** Istio's Protocol.IsHTTP(): the ports MeshConfig's h2UpgradePolicy upgrades. */
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-Web']);

export interface ClusterOptions {
  /** Proxyless gRPC clients: EDS only, no TLS sockets or Envoy-only extensions. */
  grpc: boolean;
  /**
   * Waypoints: no TLS transport socket (their endpoints are reached over HBONE through
   * `connect_originate`, which carries the mutual TLS), EDS endpoints as internal addresses.
   */
  waypoint?: boolean;
}

/** Outbound clusters for every service port the proxy can see: default cluster plus one per DR subset. */
export function outboundClusters(proxy: ProxyInfo, push: PushContext, opts: ClusterOptions): JsonObject[] {
  return push.cached(`cds|${opts.grpc}|${opts.waypoint === true}|${push.scopeKey(proxy)}`, () => buildOutboundClusters(proxy, push, opts));
}

function buildOutboundClusters(proxy: ProxyInfo, push: PushContext, opts: ClusterOptions): JsonObject[] {
  const out: JsonObject[] = [];
  const seen = new Set<string>();
  for (const service of push.servicesVisibleTo(proxy)) {
    for (const port of service.ports) {
      for (const c of serviceClusters(proxy, push, service, port, opts)) {
        if (seen.has(c.name as string)) continue;
        seen.add(c.name as string);
        out.push(c);
      }
    }
  }
  return out;
}

/** The clusters of one service port: `outbound|PORT||HOST` and `outbound|PORT|SUBSET|HOST`. */
export function serviceClusters(proxy: ProxyInfo, push: PushContext, service: Service, port: ServicePort, opts: ClusterOptions): JsonObject[] {
  const dr = push.destinationRuleFor(proxy, service);
  // A sidecar's cluster of a sniffed port speaks the downstream's HTTP version (istiod), a gateway's not.
  const downstreamProtocol = !opts.grpc && opts.waypoint !== true && proxy.type === 'sidecar' && isSniffed(port.protocol);
  // A service port's clusters depend only on the service and the DestinationRule in force:
  // shared by every scope that resolves the same rule.
  const key = `clusters|${opts.grpc}|${opts.waypoint === true}|${downstreamProtocol}|${service.namespace}/${service.hostname}|${port.port}|${dr ? `${dr.namespace}/${dr.name}` : ''}`;
  return push.cached(key, () => {
    const o = { ...opts, downstreamProtocol };
    const out = [buildCluster(push, service, port, undefined, dr, o)];
    for (const subset of dr?.spec.subsets ?? []) {
      if (subset.name) out.push(buildCluster(push, service, port, subset, dr, o));
    }
    return out;
  });
}

/** Endpoints of a service port, narrowed to a subset's labels. */
export function subsetEndpoints(push: PushContext, service: Service, port: number, subsetLabels: Readonly<Record<string, string>> | undefined): Endpoint[] {
  const all = push.registry.endpoints(service.hostname, port, service.namespace);
  if (!subsetLabels || Object.keys(subsetLabels).length === 0) return [...all];
  return all.filter((e) => Object.entries(subsetLabels).every(([k, v]) => e.labels[k] === v));
}

function buildCluster(push: PushContext, service: Service, port: ServicePort, subset: Subset | undefined, dr: DestinationRuleView | undefined, opts: ClusterOptions & { downstreamProtocol: boolean }): JsonObject {
  const name = outboundClusterName(port.port, subset?.name, service.hostname);
  const policy = effectivePolicy(dr?.spec.trafficPolicy, subset?.trafficPolicy, port.port);
  const cluster: JsonObject = { name };
  const lb = loadBalancerFields(policy.loadBalancer);
  const passthrough = lb.type === 'ORIGINAL_DST' || service.resolution === 'NONE' || service.resolution === 'PASSTHROUGH';
  if (opts.grpc) {
    Object.assign(cluster, { type: 'EDS', edsClusterConfig: { edsConfig: adsConfigSource({ grpc: true }), serviceName: name }, lbPolicy: lb.lbPolicy === 'RING_HASH' ? 'RING_HASH' : 'ROUND_ROBIN' });
    // As istiod: only an explicit ISTIO_MUTUAL gives gRPC clients mTLS (they cannot reach PERMISSIVE
    // servers with Istio's ALPN, and may not use xDS credentials at all).
    if (policy.tls?.mode === 'ISTIO_MUTUAL') Object.assign(cluster, grpcUpstreamTls(policy.tls.subjectAltNames?.length ? policy.tls.subjectAltNames : serviceAccountsOf(push, service)));
    return cluster;
  }
  if (passthrough) {
    Object.assign(cluster, { type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' });
  } else if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') {
    const endpoints = subsetEndpoints(push, service, port.port, subset?.labels);
    const lbEndpoints = endpoints.length > 0 ? localityLbEndpoints(endpoints, { grpc: false }) : [{ locality: {}, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: service.hostname, portValue: port.port } } } }] }];
    Object.assign(cluster, lb, {
      type: service.resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS',
      dnsLookupFamily: 'V4_ONLY',
      respectDnsTtl: true,
      loadAssignment: { clusterName: name, endpoints: lbEndpoints },
    });
  } else {
    Object.assign(cluster, lb, { type: 'EDS', edsClusterConfig: { edsConfig: adsConfigSource(), serviceName: name } });
  }
  const upgrade = shouldH2Upgrade(policy.connectionPool, HTTP_PROTOCOLS.has(port.protocol), push.mesh.h2UpgradePolicy);
  Object.assign(cluster, connectionPoolFields(policy.connectionPool, HTTP2_PROTOCOLS.has(port.protocol), push.mesh.connectTimeout, opts.downstreamProtocol, policy.retryBudget, upgrade));
  Object.assign(cluster, outlierDetectionFields(policy.outlierDetection));
  // As istiod: panic mode off (no traffic to unhealthy hosts when few are healthy).
  if (!passthrough && cluster.commonLbConfig === undefined) cluster.commonLbConfig = { healthyPanicThreshold: {} };
  if (!passthrough && wantsLocalityWeights(effectiveLocalityLb(push.mesh.localityLbSetting, policy.loadBalancer?.localityLbSetting), policy.outlierDetection !== undefined)) {
    (cluster.commonLbConfig as JsonObject).localityWeightedLbConfig = {};
  }
  const sans = serviceAccountsOf(push, service);
  if (!opts.waypoint) Object.assign(cluster, clusterTlsFields(policy.tls, { sni: istioSni(port.port, subset?.name, service.hostname), sans, autoMtls: push.mesh.enableAutoMtls !== false && service.location === 'MESH_INTERNAL' && !passthrough, host: service.hostname }));
  if (!opts.waypoint) wrapProxyProtocol(cluster, policy.proxyProtocol);
  const configRef = dr ? { config: `/apis/networking.istio.io/v1/namespaces/${dr.namespace}/destination-rule/${dr.name}` } : {};
  cluster.metadata = { filterMetadata: { istio: { ...configRef, services: [{ host: service.hostname, name: service.name ?? service.hostname, namespace: service.namespace }], ...(subset?.name ? { subset: subset.name } : {}) } } };
  return cluster;
}

/**
 * SAN list of a mesh mTLS cluster, as istiod builds it: the SPIFFE IDs of every service account
 * behind the service (whatever the port or subset: a subset with no pods yet still checks who
 * answers), each also under the trust domain aliases, plus a ServiceEntry's subjectAltNames.
 */
function serviceAccountsOf(push: PushContext, service: Service): string[] {
  const who = serviceIdentities(push.registry, service);
  const ids = new Set<string>(who.subjectAltNames);
  for (const account of who.accounts) {
    const [ns, sa] = account.split('/') as [string, string];
    ids.add(push.spiffeId(ns, sa));
    // Workloads may still hold certificates of an aliased trust domain (Istio verifies both).
    for (const td of push.mesh.trustDomainAliases ?? []) ids.add(`spiffe://${td}/ns/${ns}/sa/${sa}`);
  }
  return [...ids].sort();
}

/**
 * Passthrough clusters keep the downstream's HTTP version (gRPC and h2c stay HTTP/2 on the way
 * to an unknown destination) and close idle upstream connections after 5 minutes, as istiod.
 */
export const PASSTHROUGH_PROTOCOL_OPTIONS: JsonObject = Object.freeze({
  [EXT.httpProtocolOptions.name]: { '@type': EXT.httpProtocolOptions.type, commonHttpProtocolOptions: { idleTimeout: '300s' }, useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } },
});

/** BlackHoleCluster (drops) and, but for gateways (istiod sends them none), PassthroughCluster (original destination). */
export function specialClusters(passthrough = true): JsonObject[] {
  return [
    { name: BLACKHOLE_CLUSTER, type: 'STATIC', connectTimeout: '10s' },
    ...(passthrough ? [{
      name: PASSTHROUGH_CLUSTER,
      type: 'ORIGINAL_DST',
      lbPolicy: 'CLUSTER_PROVIDED',
      connectTimeout: '10s',
      circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 }] },
      typedExtensionProtocolOptions: PASSTHROUGH_PROTOCOL_OPTIONS,
      filters: [tcpMetadataExchangeFilter()],
    }] : []),
  ];
}
