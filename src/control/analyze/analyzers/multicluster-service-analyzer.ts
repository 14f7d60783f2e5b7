import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { objs, str, type Obj } from '../untyped-fields.ts';

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function portsKey(spec: Obj): string {
  return canonical([...objs(spec.ports)].sort((a, b) => (str(a.name) < str(b.name) ? -1 : str(a.name) > str(b.name) ? 1 : 0)));
}

/**
 * Istio's services.MultiClusterServiceAnalyzer: a service defined in several clusters should be
 * the same everywhere (type, headless or not, ports); only runs in multi-cluster analysis.
 */
export const multiClusterServiceAnalyzer: Analyzer = {
  name: 'services.MultiClusterServiceAnalyzer',
  description: 'Check the validity of services in the multi-cluster environment',
  messages: ['MultiClusterInconsistentService'],
  analyze(ctx) {
    const byName = new Map<string, Map<string, ConfigResource>>();
    for (const svc of ctx.list('Service')) {
      const cluster = ctx.clusterOf(svc);
      if (cluster === '') continue;
      const key = `${svc.metadata.namespace ?? ''}/${svc.metadata.name}`;
      const m = byName.get(key) ?? new Map<string, ConfigResource>();
      m.set(cluster, svc);
      byName.set(key, m);
    }
    for (const perCluster of byName.values()) {
      if (perCluster.size < 2) continue;
      const entries = [...perCluster.entries()];
      const [firstCluster, first] = entries[0]!;
      const fs = first.spec as Obj;
      const clusters = new Set<string>();
      const reasons = new Set<string>();
      const headless = (s: Obj): boolean => str(s.clusterIP) === 'None';
      for (const [id, svc] of entries) {
        const s = svc.spec as Obj;
        if (headless(fs) !== headless(s)) {
          for (const [c] of entries) clusters.add(c);
          reasons.add('service has mixed mode like headless and clusterIP');
        }
        if (str(fs.type) !== str(s.type)) {
          clusters.add(id);
          reasons.add('service type is inconsistent');
        }
        if (portsKey(fs) !== portsKey(s)) {
          clusters.add(id);
          reasons.add('service ports are inconsistent');
        }
      }
      if (clusters.size === 0) continue;
      clusters.add(firstCluster);
      ctx.report(first, 'MultiClusterInconsistentService', first.metadata.name, first.metadata.namespace ?? '', [...clusters].sort(), [...reasons].sort().join('; '));
    }
  },
};
