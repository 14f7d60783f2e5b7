import type { Analyzer } from '../analyzer.ts';
import { obj, objs, type Obj } from '../untyped-fields.ts';

/** Istio's deprecation.DeprecationAnalyzer: fields Istio has deprecated in VirtualService and Sidecar. */
export const deprecationAnalyzer: Analyzer = {
  name: 'deprecation.DeprecationAnalyzer',
  description: 'Checks for deprecated Istio types and fields',
  messages: ['Deprecated'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      for (const http of objs((vs.spec as Obj).http)) {
        if (obj(obj(http.fault).delay).percent !== undefined) ctx.report(vs, 'Deprecated', 'HTTPFaultInjection.Delay.percent is deprecated; use percentage');
        if (obj(http.corsPolicy).allowOrigin !== undefined) ctx.report(vs, 'Deprecated', 'CorsPolicy.allowOrigin is deprecated; use allowOrigins');
      }
    }
    for (const sc of ctx.list('Sidecar')) {
      if (obj(obj((sc.spec as Obj).outboundTrafficPolicy)).egressProxy !== undefined) {
        ctx.report(sc, 'Deprecated', 'OutboundTrafficPolicy.egressProxy is deprecated');
      }
    }
  },
};
