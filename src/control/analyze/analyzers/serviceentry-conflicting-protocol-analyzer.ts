import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { EXPORT_ALL, EXPORT_LOCAL } from '../service-host-index.ts';
import { num, objs, str, strs, type Obj } from '../untyped-fields.ts';

interface Entry {
  se: ConfigResource;
  protocol: string;
}

/**
 * Istio's serviceentry.ConflictingServiceEntryProtocolAnalyzer: ServiceEntries visible in the
 * same scope must not give the same host and port different protocols.
 */
export const conflictingServiceEntryProtocolAnalyzer: Analyzer = {
  name: 'serviceentry.ConflictingServiceEntryProtocolAnalyzer',
  description: 'Checks if multiple ServiceEntries define the same host and port with different protocols',
  messages: ['ConflictingServiceEntryProtocol'],
  analyze(ctx) {
    // scope (namespace or `*`) → host → port → entries
    const index = new Map<string, { scope: string; host: string; port: number; entries: Entry[] }>();
    for (const se of ctx.list('ServiceEntry')) {
      const spec = se.spec as Obj;
      const ns = se.metadata.namespace ?? '';
      const exportTo = strs(spec.exportTo);
      const scopes = exportTo.length === 0 || exportTo.includes(EXPORT_ALL) ? [EXPORT_ALL] : [...new Set(exportTo.map((e) => (e === EXPORT_LOCAL ? ns : e)))];
      for (const scope of scopes) {
        for (const host of strs(spec.hosts)) {
          for (const p of objs(spec.ports)) {
            const port = num(p.number) ?? 0;
            const key = JSON.stringify([scope, host, port]);
            const slot = index.get(key) ?? { scope, host, port, entries: [] };
            slot.entries.push({ se, protocol: str(p.protocol) });
            index.set(key, slot);
          }
        }
      }
    }
    const reported = new Set<string>();
    for (const slot of index.values()) {
      const entries = [...slot.entries];
      if (slot.scope !== EXPORT_ALL) entries.push(...(index.get(JSON.stringify([EXPORT_ALL, slot.host, slot.port]))?.entries ?? []));
      const protocols = [...new Set(entries.map((e) => e.protocol.toUpperCase()))].sort();
      if (protocols.length < 2) continue;
      const names = [...new Set(entries.map((e) => fullName(e.se)))].sort().join(', ');
      for (const e of entries) {
        const n = fullName(e.se);
        if (reported.has(n)) continue;
        reported.add(n);
        ctx.report(e.se, 'ConflictingServiceEntryProtocol', names, slot.host, slot.port, protocols.join(', '));
      }
    }
  },
};
