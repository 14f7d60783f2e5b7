import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { hasIstioProxy, INJECT_ANNOTATION, INJECTION_LABEL, REVISION_LABEL } from '../injection-status.ts';
import { injectorValues } from '../injector-config.ts';
import { obj, type Obj } from '../untyped-fields.ts';

const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';

/** Namespaces Istio's injector never touches (inject.IgnoredNamespaces), so the analyzer skips them. */
const IGNORED_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

/** `sidecarInjectorWebhook.enableNamespacesByDefault` of the injector for a revision. */
function enableNamespacesByDefault(ctx: AnalysisContext, revision: string): boolean {
  const values = injectorValues(ctx, revision);
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
    const injected = new Set<string>();
    for (const ns of ctx.list('Namespace')) {
      const name = ns.metadata.name;
      if (name === 'istio-system' || IGNORED_NAMESPACES.has(name)) continue;
      const labels = ns.metadata.labels ?? {};
      const injection = labels[INJECTION_LABEL];
      const rev = labels[REVISION_LABEL];
      const istioLabels: string[] = [];
      if (injection !== undefined) istioLabels.push(`${INJECTION_LABEL}=${injection}`);
      for (const l of [REVISION_LABEL, DATAPLANE_MODE_LABEL]) {
        if (labels[l] !== undefined && (injection === undefined || injection === 'enabled')) istioLabels.push(`${l}=${labels[l]}`);
      }
      if (istioLabels.length > 1) ctx.report(ns, 'NamespaceMultipleInjectionLabels', istioLabels);
      if (labels[DATAPLANE_MODE_LABEL] === 'ambient') continue;
      if ((injection ?? '') === '' && rev === undefined) {
        if (enableNamespacesByDefault(ctx, '')) ctx.report(ns, 'NamespaceInjectionEnabledByDefault');
        else ctx.report(ns, 'NamespaceNotInjected', name, name);
        continue;
      }
      // Only the legacy label marks a namespace whose pods must all have the proxy.
      if (injection !== 'enabled') continue;
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
