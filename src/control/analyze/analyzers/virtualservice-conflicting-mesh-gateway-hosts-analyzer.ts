import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { hostMatches, toFqdn } from '../host-name.ts';
import { clusterDomain, EXPORT_ALL, EXPORT_LOCAL } from '../service-host-index.ts';
import { strs, type Obj } from '../untyped-fields.ts';

/**
 * Istio's virtualservice.ConflictingMeshGatewayHostsAnalyzer: two VirtualServices bound to the
 * mesh gateway must not claim the same host for a namespace that sees both. Hosts are keyed by
 * visibility scope (`*` or a namespace); a namespace-scoped host also conflicts with any
 * mesh-wide host matching it.
 */
export const conflictingMeshGatewayHostsAnalyzer: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: 'Checks if multiple virtual services associated with the mesh gateway have conflicting hosts',
  messages: ['ConflictingMeshGatewayVirtualServiceHosts'],
  analyze(ctx) {
    const domain = clusterDomain(ctx);
    const byKey = new Map<string, { scope: string; host: string; list: ConfigResource[] }>();
    for (const vs of ctx.list('VirtualService')) {
      const spec = vs.spec as Obj;
      const gateways = strs(spec.gateways);
      if (gateways.length > 0 && !gateways.includes('mesh')) continue;
      const ns = vs.metadata.namespace ?? '';
      const exportTo = strs(spec.exportTo);
      const scopes = exportTo.length === 0 || exportTo.includes(EXPORT_ALL) ? [EXPORT_ALL] : [...new Set(exportTo.map((e) => (e === EXPORT_LOCAL ? ns : e)))];
      for (const scope of scopes) {
        for (const h of strs(spec.hosts)) {
          const host = toFqdn(ns, h, domain);
          const key = `${scope}/${host}`;
          const slot = byKey.get(key) ?? { scope, host, list: [] };
          slot.list.push(vs);
          byKey.set(key, slot);
        }
      }
    }
    const reported = new Set<ConfigResource>();
    for (const [key, slot] of byKey) {
      const list = [...slot.list];
      if (slot.scope !== EXPORT_ALL) {
        for (const other of byKey.values()) if (other.scope === EXPORT_ALL && hostMatches(slot.host, other.host)) list.push(...other.list);
      }
      if (list.length < 2) continue;
      const names = list.map(fullName).join(',');
      for (const vs of list) {
        if (reported.has(vs)) continue;
        reported.add(vs);
        ctx.report(vs, 'ConflictingMeshGatewayVirtualServiceHosts', names, key);
      }
    }
  },
};
