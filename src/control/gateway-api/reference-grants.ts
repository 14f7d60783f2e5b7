import type { ConfigResource } from '../../api/config-resource.ts';
import { GATEWAY_API_GROUP } from '../../api/kinds.ts';
import type { ReferenceGrantSpec } from '../../api/gateway-api/gateway-api-types.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';

/**
 * ReferenceGrant index (istiod's AllowedReferences): may a route (or Gateway) in one namespace
 * refer to a Service (or Secret) in another? Same-namespace references need no grant.
 */
export class ReferenceGrants {
  /** `fromKind/fromNs -> toKind/toNs` → allowed names ('*' for all). */
  private readonly grants = new Map<string, Set<string>>();

  constructor(config: ConfigStoreReader) {
    for (const r of config.list('ReferenceGrant') as readonly ConfigResource<ReferenceGrantSpec>[]) {
      const ns = r.metadata.namespace ?? 'default';
      for (const from of r.spec?.from ?? []) {
        if (from.group !== GATEWAY_API_GROUP) continue;
        for (const to of r.spec?.to ?? []) {
          if ((to.group ?? '') !== '') continue; // Service and Secret are core kinds
          const key = `${from.kind}/${from.namespace}->${to.kind}/${ns}`;
          let set = this.grants.get(key);
          if (!set) this.grants.set(key, (set = new Set()));
          set.add(to.name ?? '*');
        }
      }
    }
  }

  allows(fromKind: string, fromNamespace: string, toKind: string, toNamespace: string, toName: string): boolean {
    if (fromNamespace === toNamespace) return true;
    const set = this.grants.get(`${fromKind}/${fromNamespace}->${toKind}/${toNamespace}`);
    return !!set && (set.has('*') || set.has(toName));
  }
}
