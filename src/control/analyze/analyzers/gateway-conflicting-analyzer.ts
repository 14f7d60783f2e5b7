import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { gatewayPods, gatewaySelector } from '../gateway-workloads.ts';
import { hostMatches } from '../host-name.ts';
import { selectorString } from '../label-selector.ts';
import { num, obj, objs, strs, type Obj } from '../untyped-fields.ts';


function bareHost(h: string): string {
  const slash = h.indexOf('/');
  return slash < 0 ? h : h.slice(slash + 1);
}

/**
 * Istio's gateway.ConflictingGatewayAnalyzer: Gateways on the same workload must not serve the
 * same host on the same port.
 */
export const conflictingGatewayAnalyzer: Analyzer = {
  name: 'gateway.ConflictingGatewayAnalyzer',
  description: 'Checks a gateway\'s selector, port number and hosts',
  messages: ['ConflictingGateways'],
  analyze(ctx) {
    const gateways = ctx.list('Gateway');
    const pods = new Map(gateways.map((g) => [g, new Set(gatewayPods(ctx, g))]));
    const shareWorkload = (a: ConfigResource, b: ConfigResource): boolean => {
      if (selectorString(gatewaySelector(a)) === selectorString(gatewaySelector(b))) return true;
      const pb = pods.get(b)!;
      for (const p of pods.get(a)!) if (pb.has(p)) return true;
      return false;
    };
    for (const gw of gateways) {
      const selector = selectorString(gatewaySelector(gw));
      for (const server of objs((gw.spec as Obj).servers)) {
        const port = num(obj(server.port).number);
        if (port === undefined || port === 0) continue;
        const hosts = strs(server.hosts);
        const conflicts = new Set<string>();
        for (const other of gateways) {
          if (other === gw || !shareWorkload(gw, other)) continue;
          for (const os of objs((other.spec as Obj).servers)) {
            if (num(obj(os.port).number) !== port) continue;
            const otherHosts = strs(os.hosts);
            if (hosts.some((h) => otherHosts.some((o) => hostMatches(bareHost(h), bareHost(o))))) conflicts.add(fullName(other));
          }
        }
        if (conflicts.size > 0) ctx.report(gw, 'ConflictingGateways', [...conflicts].sort().join(','), selector, String(port), hosts.join(','));
      }
    }
  },
};
