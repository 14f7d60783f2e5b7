import type { PushContext } from '../push/push-context.ts';
import { hostMatches } from '../push/host-match.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { parseClusterName, type ParsedClusterName } from './cluster-names.ts';
import { istioSni } from './cluster-tls.ts';
import type { JsonObject } from './envoy-extensions.ts';
import type { BoundServer } from './gateway-servers.ts';
import { tcpProxyFilter } from './http-connection-manager.ts';
import { outboundClusters } from './outbound-clusters.ts';

/**
 * Gateway servers with `tls.mode: AUTO_PASSTHROUGH` (Istio's east-west gateway, samples/multicluster
 * expose-services.yaml): the client sidecar's mTLS passes through untouched, routed by its SNI
 * `outbound_.PORT_.SUBSET_.HOST` to that service port's (subset's) endpoints. istiod gives such a
 * gateway "SNI-DNAT" clusters named by the SNI — the outbound clusters without TLS (the bytes are
 * already the client's mTLS) — and one filter chain per SNI the server's hosts admit.
 */
export function hasAutoPassthrough(proxy: ProxyInfo, push: PushContext): boolean {
  if (proxy.type !== 'router') return false;
  return push.gatewaysFor(proxy).some((g) => (g.spec.servers ?? []).some((s) => s.tls?.mode === 'AUTO_PASSTHROUGH'));
}

/** `outbound_.PORT_.SUBSET_.HOST` read back into its parts; undefined for any other name. */
export function parseSniDnatClusterName(name: string): ParsedClusterName | undefined {
  const m = /^outbound_\.(\d+)_\.([^_]*)_\.(.+)$/.exec(name);
  if (!m) return undefined;
  return parseClusterName(`outbound|${m[1]}|${m[2]}|${m[3]}`);
}

/** The SNI-DNAT clusters of a gateway with an AUTO_PASSTHROUGH server (none otherwise). */
export function sniDnatClusters(proxy: ProxyInfo, push: PushContext): JsonObject[] {
  if (!hasAutoPassthrough(proxy, push)) return [];
  return push.cached(`sni-dnat|${push.scopeKey(proxy)}`, () => {
    const out: JsonObject[] = [];
    for (const c of outboundClusters(proxy, push, { grpc: false })) {
      if (c.type !== 'EDS') continue;
      const parsed = parseClusterName(c.name as string);
      if (!parsed) continue;
      const name = istioSni(parsed.port, parsed.subset || undefined, parsed.host);
      const { transportSocket: _ts, transportSocketMatches: _tsm, filters: _f, ...rest } = c;
      out.push({ ...rest, name, edsClusterConfig: { ...(c.edsClusterConfig as JsonObject), serviceName: name } });
    }
    return out;
  });
}

/**
 * The filter chains of one AUTO_PASSTHROUGH server: a chain per SNI-DNAT cluster whose host the
 * server admits (`*.local` admits every mesh service), matched on that SNI, a tcp_proxy to it.
 */
export function autoPassthroughChains(proxy: ProxyInfo, push: PushContext, s: BoundServer): JsonObject[] {
  const chains: JsonObject[] = [];
  for (const c of sniDnatClusters(proxy, push)) {
    const name = c.name as string;
    const host = parseSniDnatClusterName(name)?.host;
    if (!host || !s.hosts.some((h) => hostMatches(h.host, host))) continue;
    chains.push({ filterChainMatch: { serverNames: [name] }, filters: [tcpProxyFilter(name, name)] });
  }
  return chains;
}
