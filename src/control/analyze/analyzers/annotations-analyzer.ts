import type { Analyzer } from '../analyzer.ts';
import { ALWAYS_IGNORED_ANNOTATIONS, isIstioAnnotation, lookupAnnotation } from '../istio-annotations.ts';

/**
 * Istio's annotations.K8sAnalyzer: Istio annotations on Namespaces, Services, Pods and
 * Deployments must be known, in the right place, not deprecated, and have valid values.
 */
export const annotationsAnalyzer: Analyzer = {
  name: 'annotations.K8sAnalyzer',
  description: 'Checks for misplaced and invalid Istio annotations in Kubernetes resources',
  messages: ['UnknownAnnotation', 'MisplacedAnnotation', 'InvalidAnnotation', 'DeprecatedAnnotation'],
  analyze(ctx) {
    for (const kind of ['Namespace', 'Service', 'Pod', 'Deployment']) {
      for (const r of ctx.list(kind)) {
        for (const [name, value] of Object.entries(r.metadata.annotations ?? {})) {
          if (!isIstioAnnotation(name) || ALWAYS_IGNORED_ANNOTATIONS.has(name)) continue;
          const info = lookupAnnotation(name);
          if (!info) {
            ctx.report(r, 'UnknownAnnotation', name);
            continue;
          }
          // Both the deprecated annotation and its replacement label: the user knows; stay quiet.
          const revisioned = r.metadata.labels?.['sidecar.istio.io/inject'] !== undefined && name === 'sidecar.istio.io/inject';
          if (info.deprecated !== undefined && !revisioned) ctx.report(r, 'DeprecatedAnnotation', name, info.deprecated);
          if (info.resources.includes('Any')) continue;
          if (!info.resources.includes(kind)) {
            ctx.report(r, 'MisplacedAnnotation', name, info.resources.join(', '));
            continue;
          }
          const err = info.validate?.(String(value));
          if (err !== undefined) ctx.report(r, 'InvalidAnnotation', name, err);
        }
      }
    }
  },
};
