import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { podTemplate } from '../injection-status.ts';
import { labelSelectorMatches } from '../label-selector.ts';
import { objs, str, type Obj } from '../untyped-fields.ts';

/** Whether an Istio injection webhook (name ending in istio.io) would mutate such a pod. */
function matchesInjectionWebhook(ctx: AnalysisContext, namespace: string, labels: Record<string, string>): boolean {
  const nsLabels = ctx.get('Namespace', '', namespace || 'default')?.metadata.labels ?? {};
  for (const cfg of ctx.list('MutatingWebhookConfiguration')) {
    for (const wh of objs(cfg.spec.webhooks)) {
      if (!str(wh.name).endsWith('istio.io')) continue;
      if (labelSelectorMatches(wh.namespaceSelector, nsLabels) && labelSelectorMatches(wh.objectSelector, labels)) return true;
    }
  }
  return false;
}

function hasAutoImage(spec: Obj): boolean {
  return objs(spec.containers).some((c) => str(c.name) === 'istio-proxy' && str(c.image) === 'auto');
}

/**
 * Istio's injection.ImageAutoAnalyzer: `image: auto` is only replaced by injection. A Pod with it
 * is broken already (injection happens at creation); a Deployment must be selected by an
 * injection webhook.
 */
export const imageAutoAnalyzer: Analyzer = {
  name: 'injection.ImageAutoAnalyzer',
  description: 'Makes sure that Pods and Deployments with `image: auto` are going to be injected',
  messages: ['ImageAutoWithoutInjectionWarning', 'ImageAutoWithoutInjectionError'],
  analyze(ctx) {
    for (const pod of ctx.list('Pod')) {
      if (hasAutoImage(pod.spec as Obj)) ctx.report(pod, 'ImageAutoWithoutInjectionError', 'Pod', pod.metadata.name);
    }
    for (const d of ctx.list('Deployment')) {
      const t = podTemplate(d);
      if (!hasAutoImage(t.spec)) continue;
      if (!matchesInjectionWebhook(ctx, d.metadata.namespace ?? '', t.labels)) ctx.report(d, 'ImageAutoWithoutInjectionWarning', 'Deployment', d.metadata.name);
    }
  },
};
