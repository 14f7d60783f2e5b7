import type { PushContext } from '../push/push-context.ts';
import { hostMatches } from '../push/host-match.ts';
import { resolveGatewayName, type VirtualServiceView } from '../push/virtual-service-index.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { BLACKHOLE_CLUSTER } from './cluster-names.ts';
import { EXT, socketAddress, typedFilter, type JsonObject } from './envoy-extensions.ts';
import { gatewayRouteName, serverIsHttp, serversByPort, type BoundServer } from './gateway-servers.ts';
import { httpConnectionManagerFilter, listenerHcmSettings, tcpProxyFilter } from './http-connection-manager.ts';
import { tunnelingConfig } from './tunneling-config.ts';
import { hcmTelemetry } from './telemetry-hcm.ts';
import { tcpRouteClusters } from './outbound-listeners.ts';
import { policyFiltersFor } from './policy-filters.ts';
import { autoPassthroughChains } from './auto-passthrough.ts';
import { serverTlsSocket } from './server-tls-socket.ts';

/**
 * A gateway's listeners: one `0.0.0.0_PORT` per server port. Plain HTTP servers share one chain
 * with RDS `http.PORT`; HTTPS servers terminate TLS with the credentialName served over SDS
 * (chain matched on SNI) and route through their own route config; PASSTHROUGH servers
 * forward by SNI to the clusters of VirtualService `tls` routes (AUTO_PASSTHROUGH: to the service
 * port named by the mesh mTLS SNI, auto-passthrough.ts); TCP servers use `tcp` routes.
 * AuthorizationPolicies and RequestAuthentications selecting the gateway's pod run on every
 * chain, as on a sidecar's inbound (HTTP: jwt_authn + RBAC; TCP and passthrough: network RBAC).
 */
export function gatewayListeners(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const listeners: JsonObject[] = [];
  const policy = policyFiltersFor(proxy, push);
  for (const [port, servers] of serversByPort(proxy, push)) {
    const chains: JsonObject[] = [];
    let needsTlsInspector = false;
    const plainHttp = servers.filter((s) => serverIsHttp(s) && s.protocol !== 'HTTPS');
    if (plainHttp.length > 0) chains.push({ filters: [httpConnectionManagerFilter({ statPrefix: `outbound_0.0.0.0_${port}`, rds: `http.${port}`, preFilters: policy.http, ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'gateway'), gateway: true })] });
    for (const s of servers) {
      if (s.protocol === 'HTTPS' && serverIsHttp(s)) {
        needsTlsInspector = true;
        chains.push({
          name: gatewayRouteName(s),
          filterChainMatch: { ...sniMatch(s), transportProtocol: 'tls' },
          filters: [httpConnectionManagerFilter({ statPrefix: `outbound_0.0.0.0_${port}`, rds: gatewayRouteName(s), preFilters: policy.http, ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'gateway'), gateway: true })],
          transportSocket: serverTlsSocket(s.server.tls ?? {}),
        });
      } else if (s.protocol === 'TLS' || s.protocol === 'HTTPS') {
        needsTlsInspector = true;
        const byVirtualService = s.server.tls?.mode === 'AUTO_PASSTHROUGH' ? autoPassthroughChains(proxy, push, s) : passthroughChains(proxy, push, s);
        chains.push(...byVirtualService.map((c) => ({ ...c, filterChainMatch: { ...(c.filterChainMatch as JsonObject), transportProtocol: 'tls' }, filters: [...policy.tcp, ...(c.filters as JsonObject[])] })));
      } else if (!serverIsHttp(s)) {
        const target = tcpTarget(proxy, push, s);
        if (target) chains.push({ filters: [...policy.tcp, tcpProxyFilter(typeof target === 'string' ? target : `${s.gateway}:${port}`, target, tunnelingConfig(proxy, push, target))] });
      }
    }
    if (chains.length === 0) continue;
    // istiod's bound on a chain's TLS handshake, on every gateway chain
    for (const c of chains) c.transportSocketConnectTimeout = '15s';
    if (needsTlsInspector) {
      // TLS and plaintext servers share the port: plaintext chains match raw_buffer, so no two
      // chains have the same (empty) match when a TLS server admits every SNI.
      for (const c of chains) if (!c.filterChainMatch) c.filterChainMatch = { transportProtocol: 'raw_buffer' };
    }
    listeners.push({
      name: `0.0.0.0_${port}`,
      address: socketAddress('0.0.0.0', port),
      trafficDirection: 'OUTBOUND',
      ...(needsTlsInspector ? { listenerFilters: [typedFilter(EXT.tlsInspector)] } : {}),
      filterChains: chains,
    });
  }
  return listeners;
}

function sniMatch(s: BoundServer): JsonObject {
  const names = s.hosts.map((h) => h.host).filter((h) => h !== '*');
  return names.length > 0 ? { serverNames: names } : {};
}

/** VirtualServices bound to this server's gateway whose hosts the server admits. */
export function virtualServicesForServer(proxy: ProxyInfo, push: PushContext, s: BoundServer): VirtualServiceView[] {
  return push.virtualServicesFor(proxy, s.gateway).filter((vs) => vs.hosts.some((h) => serverAdmits(s, h, vs.namespace)));
}

/** Does a server host list (`ns/host`) admit this host from a VirtualService in `vsNs`? */
export function serverAdmits(s: BoundServer, host: string, vsNs: string): boolean {
  return s.hosts.some((h) => (h.namespace === '*' || h.namespace === vsNs) && (hostMatches(h.host, host) || hostMatches(host, h.host)));
}

/** A route match's `gateways` (resolved from the VirtualService's namespace) admit this gateway; none listed admits all. */
function matchNamesGateway(gateways: readonly string[] | undefined, gateway: string, vsNamespace: string): boolean {
  return !gateways?.length || gateways.some((g) => resolveGatewayName(g, vsNamespace) === gateway);
}

function passthroughChains(proxy: ProxyInfo, push: PushContext, s: BoundServer): JsonObject[] {
  const chains: JsonObject[] = [];
  for (const vs of virtualServicesForServer(proxy, push, s)) {
    for (const route of vs.spec.tls ?? []) {
      for (const m of route.match ?? []) {
        if (m.port !== undefined && m.port !== s.serverPort) continue;
        if (!matchNamesGateway(m.gateways, s.gateway, vs.namespace)) continue;
        const snis = (m.sniHosts ?? []).map((h) => push.resolveHost(h, vs.namespace));
        if (!route.route?.length || snis.length === 0) continue;
        const target = tcpRouteClusters(route.route, s.serverPort, vs.namespace, push);
        chains.push({ filterChainMatch: { serverNames: snis }, filters: [tcpProxyFilter(typeof target === 'string' ? target : `${vs.name}.${vs.namespace}`, target, tunnelingConfig(proxy, push, target))] });
      }
    }
  }
  return chains;
}

function tcpTarget(proxy: ProxyInfo, push: PushContext, s: BoundServer): string | { name: string; weight: number }[] | undefined {
  for (const vs of virtualServicesForServer(proxy, push, s)) {
    for (const route of vs.spec.tcp ?? []) {
      const applies = (route.match ?? []).length === 0 || route.match!.some((m) => (m.port === undefined || m.port === s.serverPort) && matchNamesGateway(m.gateways, s.gateway, vs.namespace));
      if (applies && route.route?.length) return tcpRouteClusters(route.route, s.serverPort, vs.namespace, push);
    }
  }
  return BLACKHOLE_CLUSTER;
}
