import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { hostMatches, toFqdn } from '../host-name.ts';
import { clusterDomain, EXPORT_ALL, EXPORT_LOCAL } from '../service-host-index.ts';
import { strs, type Obj } from '../untyped-fields.ts';

interface MeshHost {
  vs: ConfigResource;
  scope: string;
  host: string;
}

/**
 * Istio's virtualservice.ConflictingMeshGatewayHostsAnalyzer: two VirtualServices bound to the
 * mesh gateway must not claim the same host for a namespace that sees both.
 */
export const conflictingMeshGatewayHostsAnalyzer: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: 'Checks if multiple virtual services associated with the mesh gateway have conflicting hosts',
  messages: ['ConflictingMeshGatewayVirtualServiceHosts'],
  analyze(ctx) {
    const domain = clusterDomain(ctx);
    const entries: MeshHost[] = [];
    for (const vs of ctx.list('VirtualService')) {
      const spec = vs.spec as Obj;
      const gateways = strs(spec.gateways);
      if (gateways.length > 0 && !gateways.includes('mesh')) continue;
      const ns = vs.metadata.namespace ?? '';
      const exportTo = strs(spec.exportTo);
      const scopes = exportTo.length === 0 || exportTo.includes(EXPORT_ALL) ? [EXPORT_ALL] : [...new Set(exportTo.map((e) => (e === EXPORT_LOCAL ? ns : e)))];
      for (const scope of scopes) for (const h of strs(spec.hosts)) entries.push({ vs, scope, host: toFqdn(ns, h, domain) });
    }
    const conflicts = new Map<ConfigResource, { others: Set<ConfigResource>; host: string; scope: string }>();
    for (let i = 0; i < entries.length; i++) {
      for (let j = i + 1; j < entries.length; j++) {
        const a = entries[i]!;
        const b = entries[j]!;
        if (a.vs === b.vs) continue;
        if (a.scope !== b.scope && a.scope !== EXPORT_ALL && b.scope !== EXPORT_ALL) continue;
        if (!hostMatches(a.host, b.host)) continue;
        for (const [x, y] of [[a, b], [b, a]] as const) {
          const c = conflicts.get(x.vs) ?? { others: new Set<ConfigResource>([x.vs]), host: x.host, scope: x.scope };
          c.others.add(y.vs);
          conflicts.set(x.vs, c);
        }
      }
    }
    for (const [vs, c] of conflicts) {
      const names = [...c.others].map((o) => fullName(o)).join(',');
      ctx.report(vs, 'ConflictingMeshGatewayVirtualServiceHosts', names, `${c.scope}/${c.host}`, c.scope);
    }
  },
};
