import type { ConfigResource } from '../../../api/config-resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { mirrorDestinations, routeDestinations, type RouteDestination } from '../route-destinations.ts';
import { ServiceHostIndex, type IndexedService } from '../service-host-index.ts';
import { num, obj, objs, str, strs, type Obj } from '../untyped-fields.ts';

function checkPorts(ctx: AnalysisContext, r: ConfigResource, d: RouteDestination, svc: IndexedService): void {
  const port = d.destination.port;
  if (port === undefined || port === null) {
    if (svc.ports.length > 1) ctx.report(r, 'VirtualServiceDestinationPortSelectorRequired', d.host, svc.ports.map((p) => p.number));
    return;
  }
  const n = num(obj(port).number) ?? 0;
  if (!svc.ports.some((p) => p.number === n)) ctx.report(r, 'ReferencedResourceNotFound', 'host:port', `${d.host}:${n}`);
}

/** Destinations with a subset whose host is one of their own VirtualService's hosts, per VirtualService. */
function subsetDestinations(ctx: AnalysisContext): Map<ConfigResource, string[]> {
  const out = new Map<ConfigResource, string[]>();
  for (const r of ctx.list('VirtualService')) {
    const spec = r.spec as Obj;
    const hosts = strs(spec.hosts);
    for (const http of objs(spec.http)) {
      for (const rd of objs(http.route)) {
        const d = obj(rd.destination);
        if (str(d.subset) === '') continue;
        for (const h of hosts) if (str(d.host) === h) out.set(r, [...(out.get(r) ?? []), h]);
      }
    }
  }
  return out;
}

/** Istio's virtualservice.DestinationHostAnalyzer: destination hosts and ports must exist. */
export const virtualServiceDestinationHostAnalyzer: Analyzer = {
  name: 'virtualservice.DestinationHostAnalyzer',
  description: 'Checks the destination hosts associated with each virtual service',
  messages: ['ReferencedResourceNotFound', 'VirtualServiceDestinationPortSelectorRequired', 'IngressRouteRulesNotAffected'],
  analyze(ctx) {
    const index = new ServiceHostIndex(ctx);
    const withSubsets = subsetDestinations(ctx);
    for (const r of ctx.list('VirtualService')) {
      const spec = r.spec as Obj;
      const ns = r.metadata.namespace ?? '';
      const exportTo = strs(spec.exportTo);
      for (const [kind, list] of [['host', routeDestinations(spec)], ['mirror host', mirrorDestinations(spec)]] as const) {
        for (const d of list) {
          const svc = index.lookup(ns, exportTo, d.host);
          if (!svc) {
            ctx.report(r, 'ReferencedResourceNotFound', kind, d.host);
            continue;
          }
          checkPorts(ctx, r, d, svc);
        }
      }
      // A subset-less route on a gateway to a host other VirtualServices split by subset: the
      // subsets do not apply to gateway traffic.
      if (strs(spec.gateways).length === 0) continue;
      for (const http of objs(spec.http)) {
        for (const rd of objs(http.route)) {
          const d = obj(rd.destination);
          if (str(d.subset) !== '') continue;
          for (const [vs, hosts] of withSubsets) {
            for (const h of hosts) {
              if (h === str(d.host)) ctx.report(r, 'IngressRouteRulesNotAffected', fullName(vs), fullName(r));
            }
          }
        }
      }
    }
  },
};
