import type { RouteDestination } from '../../api/istio/virtual-service.ts';
import { MESH_GATEWAY } from '../push/virtual-service-index.ts';
import type { PushContext } from '../push/push-context.ts';
import type { Service } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER, outboundClusterName } from './cluster-names.ts';
import { EXT, socketAddress, typedFilter, type JsonObject } from './envoy-extensions.ts';
import { httpConnectionManagerFilter, listenerHcmSettings, tcpProxyFilter } from './http-connection-manager.ts';
import { tunnelingConfig } from './tunneling-config.ts';
import { hcmTelemetry } from './telemetry-hcm.ts';
import { normalizeWeights } from './route-actions.ts';
import { isHttpProtocol, isSniffed, sniffedRouteName } from './virtual-hosts.ts';

export const VIRTUAL_OUTBOUND = 'virtualOutbound';
export const VIRTUAL_OUTBOUND_PORT = 15001;

/**
 * A sidecar's outbound listeners: `virtualOutbound` (15001, hands each connection to the listener
 * for its original destination, else passthrough), `0.0.0.0_PORT` for HTTP ports (RDS route
 * config named by the port), `VIP_PORT` for TCP services (tcp_proxy).
 */
export function outboundListeners(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  const services = push.servicesVisibleTo(proxy);
  const httpPorts = new Set<number>();
  for (const s of services) for (const p of s.ports) if (isHttpProtocol(p.protocol)) httpPorts.add(p.port);
  const listeners: JsonObject[] = [virtualOutbound(proxy, push)];
  const fallback = outboundFallbackCluster(proxy, push);
  for (const port of [...httpPorts].sort((a, b) => a - b)) {
    // As istiod: HTTP (seen by http_inspector) is routed; TLS or any other protocol to any address
    // on this port passes through to its original destination (or is dropped under REGISTRY_ONLY).
    listeners.push({
      name: `0.0.0.0_${port}`,
      address: socketAddress('0.0.0.0', port),
      bindToPort: false,
      trafficDirection: 'OUTBOUND',
      listenerFilters: [typedFilter(EXT.httpInspector)],
      listenerFiltersTimeout: '0s',
      continueOnListenerFiltersTimeout: true,
      filterChains: [{ filterChainMatch: { transportProtocol: 'raw_buffer', applicationProtocols: SNIFFED_HTTP }, transportSocketConnectTimeout: TRANSPORT_SOCKET_CONNECT_TIMEOUT, filters: [httpConnectionManagerFilter({ statPrefix: `outbound_0.0.0.0_${port}`, rds: String(port), ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'outbound') })] }],
      defaultFilterChain: { filterChainMatch: {}, name: PASSTHROUGH_FILTER_CHAIN, filters: [tcpProxyFilter(fallback, fallback)] },
    });
  }
  // Non-HTTP ports: one listener per bind address (VIP, or 0.0.0.0 for services without one),
  // its chains chosen by SNI for TLS services (egress to several HTTPS hosts on 443).
  const groups = new Map<string, { ip: string; port: number; entries: TcpEntry[] }>();
  for (const s of services) {
    for (const p of s.ports) {
      if (isHttpProtocol(p.protocol)) continue;
      // ServiceEntry addresses may be CIDRs: those are matched by destination prefix on 0.0.0.0_PORT.
      const ips = s.addresses.filter((a) => !a.includes('/'));
      const cidrs = s.addresses.filter((a) => a.includes('/'));
      const binds = ips.length > 0 || cidrs.length > 0 ? ips : httpPorts.has(p.port) ? [] : ['0.0.0.0'];
      const add = (ip: string, entry: TcpEntry): void => {
        const name = `${ip}_${p.port}`;
        const g = groups.get(name) ?? { ip, port: p.port, entries: [] };
        if (!g.entries.some((e) => e.service.hostname === s.hostname)) g.entries.push(entry);
        groups.set(name, g);
      };
      for (const ip of binds) add(ip, { service: s, tls: TLS_PROTOCOLS.has(p.protocol), sniff: isSniffed(p.protocol), cidrs: [] });
      if (cidrs.length > 0 && !httpPorts.has(p.port)) add('0.0.0.0', { service: s, tls: false, sniff: false, cidrs });
    }
  }
  for (const [name, g] of groups) listeners.push(tcpListener(proxy, push, name, g.ip, g.port, g.entries));
  return listeners;
}

const TLS_PROTOCOLS = new Set(['TLS', 'HTTPS']);
/** istiod's bound on a chain's transport handshake (TLS) on outbound port listeners. */
const TRANSPORT_SOCKET_CONNECT_TIMEOUT = '15s';
/** istiod's name for the default chain of outbound port listeners. */
export const PASSTHROUGH_FILTER_CHAIN = 'PassthroughFilterChain';

/** Where traffic no service claims goes: PassthroughCluster, or BlackHoleCluster under REGISTRY_ONLY. */
function outboundFallbackCluster(proxy: ProxyInfo, push: PushContext): string {
  const registryOnly = (push.sidecarFor(proxy)?.spec.outboundTrafficPolicy?.mode ?? push.mesh.outboundTrafficPolicy?.mode) === 'REGISTRY_ONLY';
  return registryOnly ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
}
/** ALPN-like protocols http_inspector reports for plaintext HTTP. */
const SNIFFED_HTTP = ['http/1.1', 'h2c'];

interface TcpEntry {
  service: Service;
  tls: boolean;
  /** Protocol not declared: HTTP is detected (http_inspector) and routed, the rest proxied as TCP. */
  sniff: boolean;
  /** Destination CIDRs (ServiceEntry addresses) this entry is chosen by. */
  cidrs: string[];
}

function tcpListener(proxy: ProxyInfo, push: PushContext, name: string, ip: string, port: number, entries: TcpEntry[]): JsonObject {
  const chain = (s: Service): JsonObject => {
    const target = tcpTarget(proxy, push, s, port);
    return { transportSocketConnectTimeout: TRANSPORT_SOCKET_CONNECT_TIMEOUT, filters: [tcpProxyFilter(typeof target === 'string' ? target : `${s.hostname}:${port}`, target, tunnelingConfig(proxy, push, target))] };
  };
  const listener: JsonObject = { name, address: socketAddress(ip, port), bindToPort: false, trafficDirection: 'OUTBOUND', listenerFiltersTimeout: '0s', continueOnListenerFiltersTimeout: true };
  const byCidr = entries.filter((e) => e.cidrs.length > 0);
  const rest = entries.filter((e) => e.cidrs.length === 0);
  const sni = ip === '0.0.0.0' && rest.length > 1 ? rest.filter((e) => e.tls) : [];
  if (byCidr.length === 0 && sni.length === 0) {
    if (rest[0]!.sniff) {
      // As istiod: HTTP (http_inspector) is routed by the service's own route config when the
      // listener is its VIP's (`HOST:PORT`, any Host), by the port's otherwise; the rest is TCP.
      const s = rest[0]!.service;
      const rds = ip === '0.0.0.0' ? String(port) : sniffedRouteName(s.hostname, port);
      const http = { filterChainMatch: { transportProtocol: 'raw_buffer', applicationProtocols: SNIFFED_HTTP }, transportSocketConnectTimeout: TRANSPORT_SOCKET_CONNECT_TIMEOUT, filters: [httpConnectionManagerFilter({ statPrefix: `outbound_${ip}_${port}`, rds, ...listenerHcmSettings(proxy, push.mesh), telemetry: hcmTelemetry(push, proxy, 'outbound') })] };
      return { ...listener, listenerFilters: [typedFilter(EXT.httpInspector)], filterChains: [http], defaultFilterChain: chain(s) };
    }
    listener.filterChains = [chain(rest[0]!.service)];
    return listener;
  }
  const chains: JsonObject[] = [
    ...byCidr.map((e) => ({ filterChainMatch: { prefixRanges: e.cidrs.map(cidrRange) }, ...chain(e.service) })),
    ...sni.map((e) => ({ filterChainMatch: { serverNames: [e.service.hostname] }, ...chain(e.service) })),
  ];
  const plain = rest.find((e) => !sni.includes(e));
  const registryOnly = (push.sidecarFor(proxy)?.spec.outboundTrafficPolicy?.mode ?? push.mesh.outboundTrafficPolicy?.mode) === 'REGISTRY_ONLY';
  const fallback = registryOnly ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
  chains.push(plain ? chain(plain.service) : { filters: [tcpProxyFilter(fallback, fallback)] });
  return { ...listener, ...(sni.length > 0 ? { listenerFilters: [typedFilter(EXT.tlsInspector)] } : {}), filterChains: chains };
}

function cidrRange(c: string): JsonObject {
  const [addr, len] = c.split('/');
  return { addressPrefix: addr, prefixLen: Number(len) };
}

function virtualOutbound(proxy: ProxyInfo, push: PushContext): JsonObject {
  const cluster = outboundFallbackCluster(proxy, push);
  return {
    name: VIRTUAL_OUTBOUND,
    address: socketAddress('0.0.0.0', VIRTUAL_OUTBOUND_PORT),
    useOriginalDst: true,
    trafficDirection: 'OUTBOUND',
    maxConnectionsToAcceptPerSocketEvent: 1,
    filterChains: [
      // As Istio: a connection whose destination is 15001 itself is dropped, not passed through to itself.
      { name: 'virtualOutbound-blackhole', filterChainMatch: { destinationPort: VIRTUAL_OUTBOUND_PORT }, filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)] },
      { name: 'virtualOutbound-catchall-tcp', filters: [tcpProxyFilter(cluster, cluster)] },
    ],
  };
}

/** Where a TCP service port's connections go: its cluster, or a VirtualService tcp route's clusters. */
function tcpTarget(proxy: ProxyInfo, push: PushContext, s: Service, port: number): string | { name: string; weight: number }[] {
  const vs = push.virtualServiceForHost(proxy, s.hostname);
  // a match naming gateways applies to sidecars only when it names `mesh`
  const labelsOk = (m: { sourceLabels?: Record<string, string>; gateways?: string[] }): boolean =>
    (!m.sourceLabels || Object.entries(m.sourceLabels).every(([k, v]) => proxy.labels[k] === v)) && (!m.gateways?.length || m.gateways.includes(MESH_GATEWAY));
  // tls routes by SNI (the service host), then tcp routes, first match wins.
  const tls = vs?.spec.tls?.find((r) => (r.match ?? []).some((m) => (m.port === undefined || m.port === port) && labelsOk(m) && (m.sniHosts ?? []).some((h) => push.resolveHost(h, vs.namespace) === s.hostname)));
  const tcp = vs?.spec.tcp?.find((r) => (r.match ?? []).length === 0 || r.match!.some((m) => (m.port === undefined || m.port === port) && labelsOk(m)));
  const route = tls ?? tcp;
  if (!route?.route?.length) return outboundClusterName(port, undefined, s.hostname);
  return tcpRouteClusters(route.route, port, vs!.namespace, push);
}

/** tcp/tls route destinations to a cluster or weighted clusters. */
export function tcpRouteClusters(dests: readonly RouteDestination[], port: number, ns: string, push: PushContext): string | { name: string; weight: number }[] {
  const name = (d: RouteDestination): string => {
    const host = push.resolveHost(d.destination?.host ?? '', ns);
    const svc = push.registry.servicesByHost(host)[0];
    const p = d.destination?.port?.number ?? (svc && svc.ports.length === 1 ? svc.ports[0]!.port : port);
    return outboundClusterName(p, d.destination?.subset || undefined, host);
  };
  if (dests.length === 1) return name(dests[0]!);
  const live = dests.filter((d) => (d.weight ?? 0) > 0);
  const weights = normalizeWeights(live.map((d) => d.weight ?? 0));
  return live.map((d, i) => ({ name: name(d), weight: weights[i]! }));
}
