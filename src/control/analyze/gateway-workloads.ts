import type { ConfigResource } from '../../api/config-resource.ts';
import type { AnalysisContext } from './analysis-context.ts';
import { selectorMatches } from './label-selector.ts';
import { stringMap, type Obj } from './untyped-fields.ts';

/** A Gateway's `selector` labels. */
export function gatewaySelector(gw: ConfigResource): Record<string, string> {
  return stringMap((gw.spec as Obj).selector);
}

/** Pods (in any namespace) whose labels a Gateway's selector matches. */
export function gatewayPods(ctx: AnalysisContext, gw: ConfigResource): ConfigResource[] {
  const selector = gatewaySelector(gw);
  return ctx.list('Pod').filter((p) => selectorMatches(selector, p.metadata.labels));
}
