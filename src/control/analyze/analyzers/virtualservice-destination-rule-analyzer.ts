import type { Analyzer } from '../analyzer.ts';
import { mirrorDestinations, resourceNameFromHost, routeDestinations } from '../route-destinations.ts';
import { objs, str, type Obj } from '../untyped-fields.ts';

/** Istio's virtualservice.DestinationRuleAnalyzer: subsets used by routes must be defined. */
export const virtualServiceDestinationRuleAnalyzer: Analyzer = {
  name: 'virtualservice.DestinationRuleAnalyzer',
  description: 'Checks the destination rules associated with each virtual service',
  messages: ['ReferencedResourceNotFound'],
  analyze(ctx) {
    const subsets = new Set<string>();
    const key = (ns: string, host: string, subset: string): string => {
      const n = resourceNameFromHost(ns, host);
      return `${n.namespace}/${n.name}+${subset}`;
    };
    for (const dr of ctx.list('DestinationRule')) {
      const spec = dr.spec as Obj;
      for (const ss of objs(spec.subsets)) subsets.add(key(dr.metadata.namespace ?? '', str(spec.host), str(ss.name)));
    }
    for (const r of ctx.list('VirtualService')) {
      const ns = r.metadata.namespace ?? '';
      const spec = r.spec as Obj;
      for (const [kind, list] of [['host+subset in destinationrule', routeDestinations(spec)], ['mirror+subset in destinationrule', mirrorDestinations(spec)]] as const) {
        for (const d of list) {
          if (d.subset === '' || subsets.has(key(ns, d.host, d.subset))) continue;
          ctx.report(r, 'ReferencedResourceNotFound', kind, `${d.host}+${d.subset}`);
        }
      }
    }
  },
};
