import type { Analyzer } from '../analyzer.ts';
import { namespaceInAmbientMode, podInAmbientMode } from '../ambient-mode.ts';
import { obj, stringMap, type Obj } from '../untyped-fields.ts';
import { policyNames, selectWorkloads } from '../workload-selection.ts';

/**
 * Istio's sidecar.SelectorAnalyzer: a Sidecar's workload selector must match pods, no pod may be
 * selected by two Sidecars, a namespace may have one selector-less Sidecar, and Sidecars do
 * nothing for ambient workloads.
 */
export const sidecarSelectorAnalyzer: Analyzer = {
  name: 'sidecar.SelectorAnalyzer',
  description: 'Validates that sidecars that define a workload selector match at least one pod, and that there aren\'t multiple sidecar resources that select overlapping pods',
  messages: ['ReferencedResourceNotFound', 'ConflictingSidecarWorkloadSelectors', 'MultipleSidecarsWithoutWorkloadSelectors', 'IneffectivePolicy'],
  analyze(ctx) {
    const sel = selectWorkloads(ctx, ctx.list('Sidecar'), (s) => stringMap(obj((s.spec as Obj).workloadSelector).labels));
    for (const u of sel.unmatched) ctx.report(u.policy, 'ReferencedResourceNotFound', 'selector', u.selector);
    const reported = new Set<unknown>();
    for (const [pod, list] of sel.byPod) {
      const ambient = podInAmbientMode(pod);
      if (list.length === 1 && !ambient) continue;
      for (const s of list) {
        if (ambient) {
          if (!reported.has(s)) ctx.report(s, 'IneffectivePolicy', 'selected workload is in ambient mode, the policy has no impact');
          reported.add(s);
          continue;
        }
        ctx.report(s, 'ConflictingSidecarWorkloadSelectors', policyNames(list), pod.metadata.namespace ?? '', pod.metadata.name);
      }
    }
    for (const [ns, list] of sel.namespaceWide) {
      if (namespaceInAmbientMode(ctx.get('Namespace', '', ns))) {
        for (const s of list) {
          if (!reported.has(s)) ctx.report(s, 'IneffectivePolicy', 'namespace is in ambient mode, the policy has no impact');
          reported.add(s);
        }
        continue;
      }
      if (list.length > 1) for (const s of list) ctx.report(s, 'MultipleSidecarsWithoutWorkloadSelectors', policyNames(list), ns);
    }
  },
};
