import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { obj, objs, str, type Obj } from '../untyped-fields.ts';

const GATEWAY_API = 'gateway.networking.k8s.io';
const ROUTE_CONDITIONS = { Accepted: 'False', Programmed: 'False', ResolvedRefs: 'False' };

/** Per kind: the condition types Istio considers, and the status that is negative. */
const NEGATIVE: readonly { kind: string; group: string; conditions: Readonly<Record<string, string>>; fromParents?: boolean }[] = [
  { kind: 'Service', group: '', conditions: { 'istio.io/WaypointBound': 'False' } },
  { kind: 'ServiceEntry', group: 'networking.istio.io', conditions: { 'istio.io/WaypointBound': 'False' } },
  { kind: 'AuthorizationPolicy', group: 'security.istio.io', conditions: { ZtunnelAccepted: 'False', WaypointAccepted: 'False' } },
  { kind: 'Gateway', group: GATEWAY_API, conditions: ROUTE_CONDITIONS },
  { kind: 'HTTPRoute', group: GATEWAY_API, conditions: ROUTE_CONDITIONS, fromParents: true },
  { kind: 'GRPCRoute', group: GATEWAY_API, conditions: ROUTE_CONDITIONS, fromParents: true },
];

function conditionsOf(r: ConfigResource, fromParents: boolean): Obj[] {
  const status = obj(r.raw.status);
  return fromParents ? objs(status.parents).flatMap((p) => objs(p.conditions)) : objs(status.conditions);
}

/** Istio's conditions.ConditionAnalyzer: surface negative status conditions set by Istio's controllers. */
export const conditionAnalyzer: Analyzer = {
  name: 'conditions.ConditionAnalyzer',
  description: 'Checks for negative status conditions on resources',
  messages: ['NegativeConditionStatus'],
  analyze(ctx) {
    for (const k of NEGATIVE) {
      for (const r of ctx.list(k.kind, k.group)) {
        for (const c of conditionsOf(r, k.fromParents === true)) {
          const type = str(c.type);
          const status = str(c.status);
          const negative = k.conditions[type] !== undefined && k.conditions[type] === status;
          // A waypoint accepting only part of a policy reports status True with this reason.
          const partial = k.kind === 'AuthorizationPolicy' && type === 'WaypointAccepted' && str(c.reason) === 'PartiallyInvalid';
          if (negative || partial) ctx.report(r, 'NegativeConditionStatus', type, str(c.reason), str(c.message));
        }
      }
    }
  },
};
