import type { Analyzer } from '../analyzer.ts';
import { arr, obj, objs, str, type Obj } from '../untyped-fields.ts';

/**
 * Istio's serviceentry.Analyzer (ProtocolAddressesAnalyzer): a ServiceEntry with TCP (or
 * unspecified-protocol) ports needs addresses, unless DNS auto-allocation gives it some.
 */
export const serviceEntryAddressesAnalyzer: Analyzer = {
  name: 'serviceentry.Analyzer',
  description: 'Checks the validity of ServiceEntry',
  messages: ['ServiceEntryAddressesRequired'],
  analyze(ctx) {
    const meta = obj(obj(ctx.meshConfig.defaultConfig).proxyMetadata);
    const autoAllocate = str(meta.ISTIO_META_DNS_AUTO_ALLOCATE) === 'true';
    if (autoAllocate) return;
    for (const se of ctx.list('ServiceEntry')) {
      const spec = se.spec as Obj;
      if (arr(spec.addresses).length > 0 || arr(obj(se.raw.status).addresses).length > 0) continue;
      for (const p of objs(spec.ports)) {
        const protocol = str(p.protocol).toUpperCase();
        if (protocol === '' || protocol === 'TCP') ctx.report(se, 'ServiceEntryAddressesRequired');
      }
    }
  },
};
