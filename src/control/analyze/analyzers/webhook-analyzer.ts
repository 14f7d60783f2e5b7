import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { labelSelectorMatches } from '../label-selector.ts';
import { arr, obj, objs, str, strs, type Obj } from '../untyped-fields.ts';

const REV = 'istio.io/rev';

function revisions(cfg: ConfigResource): string[] {
  const out = new Set<string>();
  const own = cfg.metadata.labels?.[REV];
  if (own) out.add(own);
  for (const wh of objs(cfg.spec.webhooks)) {
    for (const sel of [wh.namespaceSelector, wh.objectSelector]) {
      for (const e of objs(obj(sel).matchExpressions)) if (str(e.key) === REV && str(e.operator) === 'In') for (const v of strs(e.values)) out.add(v);
      const ml = str(obj(obj(sel).matchLabels)[REV]);
      if (ml) out.add(ml);
    }
  }
  return [...out];
}

/**
 * Istio's webhook.Analyzer: every label combination must select at most one injection webhook
 * (else pods are injected twice), and webhooks must point at an existing service.
 */
export const webhookAnalyzer: Analyzer = {
  name: 'webhook.Analyzer',
  description: 'Checks the validity of Istio webhooks',
  messages: ['InvalidWebhook'],
  analyze(ctx) {
    const hooks: { cfg: ConfigResource; hook: Obj; key: string }[] = [];
    const revs = new Set<string>();
    for (const cfg of ctx.list('MutatingWebhookConfiguration')) {
      const r = revisions(cfg);
      const webhooks = objs(cfg.spec.webhooks);
      if (r.length === 0 && !webhooks.some((w) => str(w.name).endsWith('sidecar-injector.istio.io'))) continue;
      for (const v of r) revs.add(v);
      for (const hook of webhooks) hooks.push({ cfg, hook, key: `${cfg.metadata.name}/${str(hook.name)}` });
    }
    const nsLabels: Record<string, string>[] = [{}, { 'istio-injection': 'enabled' }, { 'istio-injection': 'disabled' }];
    const objLabels: Record<string, string>[] = [{}, { 'sidecar.istio.io/inject': 'true' }, { 'sidecar.istio.io/inject': 'false' }];
    for (const r of revs) {
      nsLabels.push({ [REV]: r });
      objLabels.push({ [REV]: r });
    }
    for (const nl of nsLabels) {
      for (const ol of objLabels) {
        const matches = hooks.filter((h) => labelSelectorMatches(h.hook.namespaceSelector, nl) && labelSelectorMatches(h.hook.objectSelector, ol));
        if (matches.length < 2) continue;
        for (const m of matches) {
          const others = matches.filter((o) => o !== m).map((o) => o.key).sort();
          ctx.report(m.cfg, 'InvalidWebhook', `Webhook overlaps with others: [${others.join(' ')}]. This may cause injection to occur twice.`);
        }
      }
    }
    for (const h of hooks) {
      const svc = obj(obj(h.hook.clientConfig).service);
      if (arr(Object.keys(svc)).length === 0) continue;
      const ns = str(svc.namespace);
      const name = str(svc.name);
      if (!ctx.exists('Service', ns, name)) ctx.report(h.cfg, 'InvalidWebhook', `Injector refers to a control plane service that does not exist: ${ns}/${name}.`);
    }
  },
};
