import type { ConfigResource } from '../../../api/config-resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { gatewaySelector } from '../gateway-workloads.ts';
import { selectorMatches, selectorString } from '../label-selector.ts';
import { num, obj, objs, str, strs, type Obj } from '../untyped-fields.ts';

function parseSelector(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(',')) {
    const kv = pair.split('=');
    if (kv.length === 2) out[kv[0]!] = kv[1]!;
  }
  return out;
}

/**
 * Whether two gateway selectors (as `k=v,...` text) target the same workload: equal, or one
 * containing the other and some pod matching both.
 */
function sameWorkload(ctx: AnalysisContext, a: string, b: string): boolean {
  if (a === b) return true;
  if (!a.includes(b) && !b.includes(a)) return false;
  const sa = parseSelector(a);
  const sb = parseSelector(b);
  return ctx.list('Pod').some((p) => selectorMatches(sa, p.metadata.labels) && selectorMatches(sb, p.metadata.labels));
}

interface ServerKey {
  gw: ConfigResource;
  selector: string;
  port: number;
  hosts: string[];
  bind: string;
}

/**
 * Istio's gateway.ConflictingGatewayAnalyzer: Gateways on the same workload must not declare the
 * same host (with the same bind address) on the same port.
 */
export const conflictingGatewayAnalyzer: Analyzer = {
  name: 'gateway.ConflictingGatewayAnalyzer',
  description: "Checks a gateway's selector, port number and hosts",
  messages: ['ConflictingGateways'],
  analyze(ctx) {
    const servers: ServerKey[] = [];
    for (const gw of ctx.list('Gateway')) {
      const selector = selectorString(gatewaySelector(gw));
      for (const s of objs((gw.spec as Obj).servers)) {
        servers.push({ gw, selector, port: num(obj(s.port).number) ?? 0, hosts: strs(s.hosts), bind: str(s.bind) });
      }
    }
    for (const gw of ctx.list('Gateway')) {
      const selector = selectorString(gatewaySelector(gw));
      for (const s of objs((gw.spec as Obj).servers)) {
        const port = num(obj(s.port).number) ?? 0;
        const hosts = strs(s.hosts);
        const bind = str(s.bind);
        const conflicts: string[] = [];
        for (const o of servers) {
          if (o.gw === gw || o.port !== port || !sameWorkload(ctx, selector, o.selector)) continue;
          if (o.bind === bind && hosts.some((h) => o.hosts.includes(h))) conflicts.push(fullName(o.gw));
        }
        if (conflicts.length > 0) ctx.report(gw, 'ConflictingGateways', [...new Set(conflicts)].sort().join(','), selector, String(port), hosts.join(','));
      }
    }
  },
};
