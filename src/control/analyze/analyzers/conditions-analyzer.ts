import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { obj, objs, str, type Obj } from '../untyped-fields.ts';

function conditionsOf(r: ConfigResource): Obj[] {
  const status = obj(r.raw.status);
  return [...objs(status.conditions), ...objs(status.parents).flatMap((p) => objs(p.conditions))];
}

/** Conditions Istio (or Gateway API) sets: bare types and `istio.io/` types; others' conditions are theirs. */
function ownCondition(type: string): boolean {
  return !type.includes('/') || type.startsWith('istio.io/');
}

/** Istio's conditions.ConditionAnalyzer: surface negative status conditions Istio wrote on resources. */
export const conditionAnalyzer: Analyzer = {
  name: 'conditions.ConditionAnalyzer',
  description: 'Checks for negative status conditions on resources',
  messages: ['NegativeConditionStatus'],
  analyze(ctx) {
    for (const r of ctx.allResources()) {
      for (const c of conditionsOf(r)) {
        const type = str(c.type);
        if (!ownCondition(type)) continue;
        if (str(c.status) === 'False' || str(c.reason) === 'PartiallyInvalid') ctx.report(r, 'NegativeConditionStatus', type, str(c.reason), str(c.message));
      }
    }
  },
};
