import type { PushContext } from '../push/push-context.ts';
import { hostMatches } from '../push/host-match.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { JsonObject } from './envoy-extensions.ts';
import { gatewayRouteName, serverIsHttp, serversByPort, type BoundServer } from './gateway-servers.ts';
import { serverAdmits, virtualServicesForServer } from './gateway-listeners.ts';
import { buildHttpRoutes } from './http-routes.ts';

/**
 * A gateway's route configs (`http.PORT`, `https.PORT.NAME.GW.NS`): one virtual host per host
 * of the VirtualServices bound to the gateway (several VirtualServices for one host are merged,
 * in creation order), domains `HOST` and `HOST:PORT`; `httpsRedirect` servers get
 * `require_tls`; a server host with no VirtualService gets a 404 virtual host.
 */
export function gatewayRouteConfigs(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const configs = new Map<string, BoundServer[]>();
  for (const servers of serversByPort(proxy, push).values()) {
    for (const s of servers) {
      if (!serverIsHttp(s)) continue;
      const name = gatewayRouteName(s);
      configs.set(name, [...(configs.get(name) ?? []), s]);
    }
  }
  const out: JsonObject[] = [];
  for (const [name, servers] of configs) out.push(routeConfig(name, servers, proxy, push));
  return out;
}

function routeConfig(name: string, servers: BoundServer[], proxy: ProxyInfo, push: PushContext): JsonObject {
  const vhosts = new Map<string, { routes: JsonObject[]; redirect: boolean; port: number }>();
  for (const s of servers) {
    const redirect = s.server.tls?.httpsRedirect === true;
    for (const vs of virtualServicesForServer(proxy, push, s)) {
      const ctx = { push, proxy, gateway: s.gateway, port: s.serverPort, proxyLabels: proxy.labels, proxyNamespace: proxy.namespace, vsNamespace: vs.namespace, grpc: false };
      const routes = buildHttpRoutes(vs.http, ctx, vs);
      for (const host of vs.hosts) {
        if (!serverAdmits(s, host, vs.namespace)) continue;
        // A VS host wider than the server's (`*` on a `foo.com` server) is narrowed to the server host.
        const effective = s.hosts.find((h) => h.host !== '*' && hostMatches(host, h.host) && !hostMatches(h.host, host))?.host ?? host;
        const entry = vhosts.get(effective) ?? { routes: [], redirect, port: s.serverPort };
        entry.routes.push(...routes);
        vhosts.set(effective, entry);
      }
    }
    for (const h of s.hosts) {
      if (![...vhosts.keys()].some((k) => hostMatches(h.host, k))) vhosts.set(h.host, { routes: [], redirect, port: s.serverPort });
    }
  }
  const virtualHosts: JsonObject[] = [];
  for (const [host, v] of [...vhosts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    virtualHosts.push({
      name: `${host}:${v.port}`,
      domains: host === '*' ? ['*'] : [host, `${host}:${v.port}`],
      routes: v.routes.length > 0 ? v.routes : [{ name: 'no-route', match: { prefix: '/' }, directResponse: { status: 404 } }],
      ...(v.redirect ? { requireTls: 'ALL' } : {}),
      includeRequestAttemptCount: true,
    });
  }
  // as istiod: direct responses up to 1 MiB; Host ports ignored (domains also list HOST:PORT)
  return { name, virtualHosts, validateClusters: false, maxDirectResponseBodySizeBytes: 1048576, ignorePortInHostMatching: true };
}
