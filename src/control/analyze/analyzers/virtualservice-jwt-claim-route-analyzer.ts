import type { ConfigResource } from '../../../api/config-resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { selectorMatches } from '../label-selector.ts';
import { obj, objs, stringMap, strs, type Obj } from '../untyped-fields.ts';

const CLAIM = /^@request\.auth\.claims(\.|\[)/;

function claimKey(spec: Obj): string {
  for (const http of objs(spec.http)) {
    for (const m of objs(http.match)) {
      for (const key of [...Object.keys(obj(m.headers)), ...Object.keys(obj(m.withoutHeaders))]) if (CLAIM.test(key)) return key;
    }
  }
  return '';
}

function podHasRequestAuthn(ctx: AnalysisContext, pod: ConfigResource): boolean {
  const podNs = pod.metadata.namespace ?? '';
  for (const ra of ctx.list('RequestAuthentication')) {
    const raNs = ra.metadata.namespace ?? '';
    if (raNs !== podNs && raNs !== ctx.rootNamespace) continue;
    if (selectorMatches(stringMap(obj((ra.spec as Obj).selector).matchLabels), pod.metadata.labels)) return true;
  }
  return false;
}

/** Istio's virtualservice.JWTClaimRouteAnalyzer: claim-based routing needs a RequestAuthentication on the gateway pods. */
export const jwtClaimRouteAnalyzer: Analyzer = {
  name: 'virtualservice.JWTClaimRouteAnalyzer',
  description: 'Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication',
  messages: ['JwtClaimBasedRoutingWithoutRequestAuthN'],
  analyze(ctx) {
    for (const r of ctx.list('VirtualService')) {
      const spec = r.spec as Obj;
      const key = claimKey(spec);
      if (key === '') continue;
      const vsNs = r.metadata.namespace ?? '';
      for (const ref of strs(spec.gateways)) {
        if (ref === 'mesh') continue;
        const slash = ref.indexOf('/');
        const gwNs = slash < 0 ? vsNs : ref.slice(0, slash);
        const gwName = slash < 0 ? ref : ref.slice(slash + 1);
        const gw = ctx.get('Gateway', gwNs, gwName);
        if (!gw) continue;
        const selector = stringMap((gw.spec as Obj).selector);
        for (const pod of ctx.list('Pod')) {
          if (!selectorMatches(selector, pod.metadata.labels)) continue;
          if (!podHasRequestAuthn(ctx, pod)) ctx.report(r, 'JwtClaimBasedRoutingWithoutRequestAuthN', key, `${gwNs}/${gwName}`, pod.metadata.name);
        }
      }
    }
  },
};
