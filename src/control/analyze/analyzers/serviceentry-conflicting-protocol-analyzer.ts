import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { EXPORT_ALL, EXPORT_LOCAL } from '../service-host-index.ts';
import { num, objs, str, strs, type Obj } from '../untyped-fields.ts';

interface HostPort {
  se: ConfigResource;
  scopes: Set<string>;
  host: string;
  port: number;
  protocol: string;
}

function visible(a: Set<string>, b: Set<string>): boolean {
  if (a.has(EXPORT_ALL) || b.has(EXPORT_ALL)) return true;
  for (const s of a) if (b.has(s)) return true;
  return false;
}

/**
 * Istio's serviceentry.ConflictingServiceEntryProtocolAnalyzer: ServiceEntries visible to the
 * same namespace must not give the same host and port different protocols.
 */
export const conflictingServiceEntryProtocolAnalyzer: Analyzer = {
  name: 'serviceentry.ConflictingServiceEntryProtocolAnalyzer',
  description: 'Checks for ServiceEntries that define the same host and port with different protocols',
  messages: ['ConflictingServiceEntryProtocol'],
  analyze(ctx) {
    const entries: HostPort[] = [];
    for (const se of ctx.list('ServiceEntry')) {
      const spec = se.spec as Obj;
      const ns = se.metadata.namespace ?? '';
      const exportTo = strs(spec.exportTo);
      const scopes = new Set(exportTo.length === 0 ? [EXPORT_ALL] : exportTo.map((e) => (e === EXPORT_LOCAL ? ns : e)));
      for (const host of strs(spec.hosts)) {
        for (const p of objs(spec.ports)) entries.push({ se, scopes, host, port: num(p.number) ?? 0, protocol: str(p.protocol).toUpperCase() });
      }
    }
    const groups = new Map<string, HostPort[]>();
    for (const e of entries) {
      const key = `${e.host}:${e.port}`;
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    const reported = new Set<ConfigResource>();
    for (const list of groups.values()) {
      for (const e of list) {
        if (reported.has(e.se)) continue;
        const conflicting = list.filter((o) => o.se !== e.se && o.protocol !== e.protocol && visible(o.scopes, e.scopes));
        if (conflicting.length === 0) continue;
        const all = [e, ...conflicting];
        const names = [...new Set(all.map((x) => fullName(x.se)))].sort().join(', ');
        const protocols = [...new Set(all.map((x) => x.protocol || 'unspecified'))].sort().join(', ');
        ctx.report(e.se, 'ConflictingServiceEntryProtocol', names, e.host, e.port, protocols);
        reported.add(e.se);
      }
    }
  },
};
