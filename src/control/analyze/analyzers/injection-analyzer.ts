import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { hasIstioProxy, INJECT_ANNOTATION, INJECTION_LABEL, REVISION_LABEL } from '../injection-status.ts';
import { injectorValues } from '../injector-config.ts';
import { obj, type Obj } from '../untyped-fields.ts';

const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

function enableNamespacesByDefault(ctx: AnalysisContext): boolean {
  const values = injectorValues(ctx, '');
  return obj(values?.sidecarInjectorWebhook).enableNamespacesByDefault === true;
}

/**
 * Istio's injection.Analyzer: namespaces should be labelled for injection (one way only), and
 * pods in injected namespaces should have the proxy.
 */
export const injectionAnalyzer: Analyzer = {
  name: 'injection.Analyzer',
  description: 'Checks conditions related to Istio sidecar injection',
  messages: ['NamespaceNotInjected', 'NamespaceInjectionEnabledByDefault', 'NamespaceMultipleInjectionLabels', 'PodMissingProxy'],
  analyze(ctx) {
    const byDefault = enableNamespacesByDefault(ctx);
    const injected = new Set<string>();
    for (const ns of ctx.list('Namespace')) {
      const name = ns.metadata.name;
      if (SYSTEM_NAMESPACES.has(name) || name === ctx.istioNamespace) continue;
      const labels = ns.metadata.labels ?? {};
      const injection = labels[INJECTION_LABEL];
      const rev = labels[REVISION_LABEL];
      const ambient = labels['istio.io/dataplane-mode'] === 'ambient';
      const kinds = [injection === 'enabled' ? `${INJECTION_LABEL}=enabled` : '', rev !== undefined ? `${REVISION_LABEL}=${rev}` : '', ambient ? 'istio.io/dataplane-mode=ambient' : ''].filter((k) => k !== '');
      if (kinds.length > 1) {
        ctx.report(ns, 'NamespaceMultipleInjectionLabels', kinds);
        continue;
      }
      if (ambient) continue;
      if (injection === undefined && rev === undefined) {
        if (byDefault) ctx.report(ns, 'NamespaceInjectionEnabledByDefault');
        else ctx.report(ns, 'NamespaceNotInjected', name, name);
        continue;
      }
      if (rev === undefined && injection !== 'enabled') continue;
      injected.add(name);
    }
    for (const pod of ctx.list('Pod')) {
      if (!injected.has(pod.metadata.namespace ?? '')) continue;
      const inject = pod.metadata.labels?.[INJECT_ANNOTATION] ?? pod.metadata.annotations?.[INJECT_ANNOTATION] ?? '';
      if (inject.toLowerCase() === 'false') continue;
      const spec = pod.spec as Obj;
      if (spec.hostNetwork === true) continue;
      if (!hasIstioProxy(spec)) ctx.report(pod, 'PodMissingProxy', fullName(pod));
    }
  },
};
