import type { Analyzer } from '../analyzer.ts';
import { num, obj, objs, str, type Obj } from '../untyped-fields.ts';

/** Istio CRDs that were removed (their CustomResourceDefinitions still installed are reported). */
const REMOVED_CRDS: readonly [string, string][] = [
  ['rbac.istio.io', 'ClusterRbacConfig'],
  ['rbac.istio.io', 'RbacConfig'],
  ['rbac.istio.io', 'ServiceRole'],
  ['rbac.istio.io', 'ServiceRoleBinding'],
];

/** Istio's deprecation.DeprecationAnalyzer: deprecated fields and removed Istio types. */
export const deprecationAnalyzer: Analyzer = {
  name: 'deprecation.DeprecationAnalyzer',
  description: 'Checks for deprecated Istio types and fields',
  messages: ['Deprecated'],
  analyze(ctx) {
    for (const vs of ctx.list('VirtualService')) {
      for (const http of objs((vs.spec as Obj).http)) {
        if ((num(obj(obj(http.fault).delay).percent) ?? 0) > 0) {
          ctx.report(vs, 'Deprecated', 'HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage');
        }
      }
    }
    for (const sc of ctx.list('Sidecar')) {
      const egressProxy = obj((sc.spec as Obj).outboundTrafficPolicy).egressProxy;
      if (egressProxy !== undefined && egressProxy !== null) ctx.report(sc, 'Deprecated', 'OutboundTrafficPolicy.EgressProxy ignored');
    }
    for (const crd of ctx.list('CustomResourceDefinition')) {
      const spec = crd.spec as Obj;
      const group = str(spec.group);
      const kind = str(obj(spec.names).kind);
      for (const [g, k] of REMOVED_CRDS) if (group === g && kind === k) ctx.report(crd, 'Deprecated', `Custom resource type ${g} ${k} is removed`);
    }
  },
};
