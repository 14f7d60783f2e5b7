/** Hand-written Envoy v3 resources (JSON naming, `Any` as `@type`) for proxy tests. */
type Obj = Record<string, unknown>;

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
export const CORS = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
const TCP = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

export function address(ip: string, port: number): Obj {
  return { socketAddress: { address: ip, portValue: port } };
}

export function hcm(routeName: string, extra: Obj = {}, filters: Obj[] = []): Obj {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typedConfig: {
      '@type': HCM,
      statPrefix: routeName,
      rds: { routeConfigName: routeName, configSource: { ads: {}, resourceApiVersion: 'V3' } },
      httpFilters: [
        ...filters,
        { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT } },
        { name: 'envoy.filters.http.cors', typedConfig: { '@type': CORS } },
        { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } },
      ],
      ...extra,
    },
  };
}

export function tcpProxy(cluster: string | { name: string; weight: number }[]): Obj {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typedConfig: typeof cluster === 'string'
      ? { '@type': TCP, statPrefix: cluster, cluster }
      : { '@type': TCP, statPrefix: 'weighted', weightedClusters: { clusters: cluster } },
  };
}

/** A listener bound to a port with one HCM chain (tests override the port to an ephemeral one). */
export function httpListener(name: string, port: number, routeName: string, extra: Obj = {}, hcmExtra: Obj = {}): Obj {
  return { name, address: address('0.0.0.0', port), filterChains: [{ filters: [hcm(routeName, hcmExtra)] }], ...extra };
}

export function routeConfig(name: string, virtualHosts: Obj[], extra: Obj = {}): Obj {
  return { name, virtualHosts, ...extra };
}

export function vhost(name: string, domains: string[], routes: Obj[], extra: Obj = {}): Obj {
  return { name, domains, routes, ...extra };
}

export function route(match: Obj, action: Obj, extra: Obj = {}): Obj {
  return { match, route: action, ...extra };
}

export function staticCluster(name: string, endpoints: [string, number][], extra: Obj = {}): Obj {
  return { name, type: 'STATIC', connectTimeout: { seconds: 1 }, loadAssignment: cla(name, endpoints), ...extra };
}

export function edsCluster(name: string, extra: Obj = {}): Obj {
  return { name, type: 'EDS', connectTimeout: { seconds: 1 }, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: name }, ...extra };
}

export function cla(name: string, endpoints: [string, number][], extra: { metadata?: Obj; health?: string[] } = {}): Obj {
  return {
    clusterName: name,
    endpoints: [{
      lbEndpoints: endpoints.map(([ip, port], i) => ({
        endpoint: { address: address(ip, port) },
        ...(extra.health?.[i] ? { healthStatus: extra.health[i] } : {}),
        ...(extra.metadata ? { metadata: extra.metadata } : {}),
      })),
    }],
  };
}

/** google.protobuf.Struct object for metadata. */
export function struct(o: Record<string, string>): Obj {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { stringValue: v }])) };
}
