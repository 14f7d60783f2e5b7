import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { podTemplate } from '../injection-status.ts';
import { labelSelectorMatches } from '../label-selector.ts';
import { objs, str } from '../untyped-fields.ts';

/** Whether any Istio injection webhook would mutate a pod with these labels in this namespace. */
function matchesInjectionWebhook(ctx: AnalysisContext, namespace: string, labels: Record<string, string>): boolean {
  const nsLabels = ctx.get('Namespace', '', namespace)?.metadata.labels ?? {};
  for (const cfg of ctx.list('MutatingWebhookConfiguration')) {
    if (!cfg.metadata.name.startsWith('istio-sidecar-injector') && !cfg.metadata.name.startsWith('istio-revision-tag')) continue;
    for (const wh of objs(cfg.spec.webhooks)) {
      if (labelSelectorMatches(wh.namespaceSelector, nsLabels) && labelSelectorMatches(wh.objectSelector, labels)) return true;
    }
  }
  return false;
}

/**
 * Istio's injection.ImageAutoAnalyzer: `image: auto` is only replaced by injection, so a workload
 * using it must be selected by an injection webhook.
 */
export const imageAutoAnalyzer: Analyzer = {
  name: 'injection.ImageAutoAnalyzer',
  description: 'Makes sure that Pods and Deployments with `image: auto` are going to be injected',
  messages: ['ImageAutoWithoutInjectionWarning', 'ImageAutoWithoutInjectionError'],
  analyze(ctx) {
    for (const kind of ['Pod', 'Deployment']) {
      for (const r of ctx.list(kind)) {
        const t = podTemplate(r);
        if (!objs(t.spec.containers).some((c) => str(c.image) === 'auto')) continue;
        if (matchesInjectionWebhook(ctx, r.metadata.namespace ?? '', t.labels)) continue;
        const type = kind === 'Pod' ? 'ImageAutoWithoutInjectionError' : 'ImageAutoWithoutInjectionWarning';
        ctx.report(r, type, kind.toLowerCase(), r.metadata.name);
      }
    }
  },
};
