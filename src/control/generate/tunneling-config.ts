import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { parseClusterName } from './cluster-names.ts';
import type { JsonObject } from './envoy-extensions.ts';

/**
 * tcp_proxy `tunneling_config` as istiod's tunnelingconfig.Apply sets it for a TCP route to one
 * destination: from the destination's DestinationRule, the subset's `tunnel` when the route names
 * a subset, else the rule's; `hostname` is targetHost:targetPort (IPv6 in brackets), `use_post`
 * when the protocol is POST (CONNECT otherwise). Weighted routes get none, as in istiod.
 */
export function tunnelingConfig(proxy: ProxyInfo, push: PushContext, target: string | readonly unknown[]): JsonObject | undefined {
  if (typeof target !== 'string') return undefined;
  const parsed = parseClusterName(target);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const service = push.registry.servicesByHost(parsed.host)[0];
  const dr = service ? push.destinationRuleFor(proxy, service) : undefined;
  if (!dr) return undefined;
  const tunnel = parsed.subset ? dr.spec.subsets?.find((s) => s.name === parsed.subset)?.trafficPolicy?.tunnel : dr.spec.trafficPolicy?.tunnel;
  if (!tunnel?.targetHost) return undefined;
  const host = tunnel.targetHost.includes(':') ? `[${tunnel.targetHost}]` : tunnel.targetHost;
  return { hostname: `${host}:${tunnel.targetPort ?? 0}`, ...(tunnel.protocol === 'POST' ? { usePost: true } : {}) };
}
