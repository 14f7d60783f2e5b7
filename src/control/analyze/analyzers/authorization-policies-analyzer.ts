import type { Analyzer } from '../analyzer.ts';
import { podInAmbientMode } from '../ambient-mode.ts';
import { workloadInMesh } from '../injection-status.ts';
import { selectorMatches, selectorString } from '../label-selector.ts';
import { obj, objs, stringMap, strs, type Obj } from '../untyped-fields.ts';

/** Istio's namespace pattern match: `*`, `*suffix`, `prefix*` or exact. */
export function namespaceMatches(ns: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return ns.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return ns.startsWith(pattern.slice(0, -1));
  return ns === pattern;
}

/**
 * Istio's auth.AuthorizationPoliciesAnalyzer: a policy should select some mesh workload, and the
 * namespaces its rules name should exist.
 */
export const authorizationPoliciesAnalyzer: Analyzer = {
  name: 'auth.AuthorizationPoliciesAnalyzer',
  description: 'Checks the validity of authorization policies',
  messages: ['NoMatchingWorkloadsFound', 'ReferencedResourceNotFound'],
  analyze(ctx) {
    const podLabels = new Map<string, Record<string, string>[]>();
    for (const pod of ctx.list('Pod')) {
      const ns = pod.metadata.namespace ?? '';
      const list = podLabels.get(ns) ?? [];
      if (workloadInMesh(ctx, pod) || podInAmbientMode(pod)) list.push(pod.metadata.labels ?? {});
      podLabels.set(ns, list);
    }
    const namespaces = ctx.list('Namespace').map((n) => n.metadata.name);
    for (const ap of ctx.list('AuthorizationPolicy')) {
      const spec = ap.spec as Obj;
      const ns = ap.metadata.namespace ?? '';
      const hasSelector = spec.selector !== undefined && spec.selector !== null;
      const selector = stringMap(obj(spec.selector).matchLabels);
      if (ns === ctx.rootNamespace) {
        if (hasSelector && ![...podLabels.values()].flat().some((l) => selectorMatches(selector, l))) {
          ctx.report(ap, 'NoMatchingWorkloadsFound', selectorString(selector));
        }
      } else if (!hasSelector) {
        if ((podLabels.get(ns) ?? []).length === 0) ctx.report(ap, 'NoMatchingWorkloadsFound', '');
      } else if (!(podLabels.get(ns) ?? []).some((l) => selectorMatches(selector, l))) {
        ctx.report(ap, 'NoMatchingWorkloadsFound', selectorString(selector));
      }
      for (const rule of objs(spec.rules)) {
        for (const from of objs(rule.from)) {
          const source = obj(from.source);
          for (const pattern of [...strs(source.namespaces), ...strs(source.notNamespaces)]) {
            if (!namespaces.some((n) => namespaceMatches(n, pattern))) ctx.report(ap, 'ReferencedResourceNotFound', 'namespace', pattern);
          }
        }
      }
    }
  },
};
