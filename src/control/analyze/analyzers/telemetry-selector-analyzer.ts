import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { obj, stringMap, type Obj } from '../untyped-fields.ts';
import { policyNames, selectWorkloads } from '../workload-selection.ts';

export function telemetrySelector(t: ConfigResource): Record<string, string> {
  return stringMap(obj((t.spec as Obj).selector).matchLabels);
}

/** Istio's telemetry.SelectorAnalyzer: selectors must match pods, and no pod may be selected twice. */
export const telemetrySelectorAnalyzer: Analyzer = {
  name: 'telemetry.SelectorAnalyzer',
  description: 'Validates that telemetries that define a selector match at least one pod, and that there aren\'t multiple telemetry resources that select overlapping pods',
  messages: ['ReferencedResourceNotFound', 'ConflictingTelemetryWorkloadSelectors'],
  analyze(ctx) {
    const withSelector = ctx.list('Telemetry').filter((t) => (t.spec as Obj).targetRef === undefined && (t.spec as Obj).targetRefs === undefined);
    const sel = selectWorkloads(ctx, withSelector, telemetrySelector);
    for (const u of sel.unmatched) ctx.report(u.policy, 'ReferencedResourceNotFound', 'selector', u.selector);
    for (const [pod, list] of sel.byPod) {
      if (list.length < 2) continue;
      for (const t of list) ctx.report(t, 'ConflictingTelemetryWorkloadSelectors', policyNames(list), pod.metadata.namespace ?? '', pod.metadata.name);
    }
  },
};

/** Istio's telemetry.DefaultSelectorAnalyzer: at most one selector-less Telemetry per namespace. */
export const telemetryDefaultSelectorAnalyzer: Analyzer = {
  name: 'telemetry.DefaultSelectorAnalyzer',
  description: 'Validates that there aren\'t multiple telemetry resources that have no selector',
  messages: ['MultipleTelemetriesWithoutWorkloadSelectors'],
  analyze(ctx) {
    const byNs = new Map<string, ConfigResource[]>();
    for (const t of ctx.list('Telemetry')) {
      const spec = t.spec as Obj;
      if (Object.keys(telemetrySelector(t)).length > 0 || spec.targetRef !== undefined || spec.targetRefs !== undefined) continue;
      const ns = t.metadata.namespace ?? '';
      byNs.set(ns, [...(byNs.get(ns) ?? []), t]);
    }
    for (const [ns, list] of byNs) {
      if (list.length > 1) for (const t of list) ctx.report(t, 'MultipleTelemetriesWithoutWorkloadSelectors', policyNames(list), ns);
    }
  },
};
