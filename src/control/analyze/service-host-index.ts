import type { ConfigResource } from '../../api/config-resource.ts';
import type { AnalysisContext } from './analysis-context.ts';
import { toFqdn } from './host-name.ts';
import { num, objs, str, strs, obj, type Obj } from './untyped-fields.ts';

/** A service as analyzers see it: a ServiceEntry, or a Kubernetes Service turned into one. */
export interface IndexedService {
  resource: ConfigResource;
  hosts: string[];
  ports: { number: number; name: string; protocol: string }[];
}

export const EXPORT_ALL = '*';
export const EXPORT_LOCAL = '.';

/** Cluster domain from the mesh config (`clusterDomain`), default `cluster.local`. */
export function clusterDomain(ctx: AnalysisContext): string {
  return str(ctx.meshConfig.clusterDomain) || 'cluster.local';
}

function scoped(scope: string, namespace: string, host: string, domain: string): string {
  return `${scope}/${toFqdn(namespace, host, domain)}`;
}

/**
 * Hosts of every ServiceEntry and Kubernetes Service, keyed by `scope/fqdn` where scope is the
 * namespace the host is visible from (`*` for all), as Istio's analyzers index them.
 */
export class ServiceHostIndex {
  private readonly entries = new Map<string, IndexedService>();
  private readonly domain: string;

  constructor(ctx: AnalysisContext) {
    this.domain = clusterDomain(ctx);
    for (const r of ctx.list('ServiceEntry')) {
      const ns = r.metadata.namespace ?? '';
      const spec = r.spec as Obj;
      const svc: IndexedService = {
        resource: r,
        hosts: strs(spec.hosts),
        ports: objs(spec.ports).map((p) => ({ number: num(p.number) ?? 0, name: str(p.name), protocol: str(p.protocol) })),
      };
      const exportTo = strs(spec.exportTo);
      for (const h of svc.hosts) {
        if (exportTo.length === 0 || exportTo.includes(EXPORT_ALL)) {
          this.entries.set(scoped(EXPORT_ALL, ns, h, this.domain), svc);
          continue;
        }
        for (const e of exportTo) this.entries.set(scoped(e === EXPORT_LOCAL ? ns : e, ns, h, this.domain), svc);
      }
    }
    for (const r of ctx.list('Service')) {
      const ns = r.metadata.namespace ?? '';
      const spec = r.spec as Obj;
      const svc: IndexedService = {
        resource: r,
        hosts: [toFqdn(ns, r.metadata.name, this.domain)],
        ports: objs(spec.ports).map((p) => ({ number: num(p.port) ?? 0, name: str(p.name), protocol: str(p.protocol) || 'TCP' })),
      };
      const anno = str(obj(r.metadata.annotations)['networking.istio.io/exportTo']);
      const scopes = anno === '' ? [EXPORT_ALL] : anno.split(',').map((s) => (s.trim() === EXPORT_LOCAL ? ns : s.trim()));
      for (const s of scopes) this.entries.set(scoped(s, ns, r.metadata.name, this.domain), svc);
    }
  }

  /** The service a destination host resolves to from a namespace (honouring exportTo), if any. */
  lookup(sourceNamespace: string, exportTo: readonly string[], host: string): IndexedService | undefined {
    const all = this.entries.get(scoped(EXPORT_ALL, sourceNamespace, host, this.domain));
    if (all) return all;
    const scopes = exportTo.length === 0 ? [sourceNamespace] : exportTo.map((e) => (e === EXPORT_LOCAL ? sourceNamespace : e));
    for (const s of scopes) {
      const hit = this.entries.get(scoped(s, sourceNamespace, host, this.domain));
      if (hit) return hit;
    }
    const bare = host.startsWith('*') ? host.slice(1) : host;
    for (const [key, svc] of this.entries) {
      const slash = key.indexOf('/');
      const scope = key.slice(0, slash);
      const seHost = key.slice(slash + 1);
      if (!seHost.startsWith('*')) continue;
      if (scope !== EXPORT_ALL && scope !== sourceNamespace) continue;
      if (bare.endsWith(seHost.slice(1))) return svc;
    }
    return undefined;
  }

  /** Every `scope/fqdn` key with its service. */
  all(): IterableIterator<[string, IndexedService]> {
    return this.entries.entries();
  }
}
