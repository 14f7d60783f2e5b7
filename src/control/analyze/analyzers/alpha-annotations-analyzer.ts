import type { Analyzer } from '../analyzer.ts';
import { ALWAYS_IGNORED_ANNOTATIONS, isIstioAnnotation, lookupAnnotation } from '../istio-annotations.ts';
import { objs, str, type Obj } from '../untyped-fields.ts';

/** Annotations istio-cni sets on every pod it handles: not the user's choice, not reported there. */
const SET_BY_CNI = new Set([
  'sidecar.istio.io/interceptionMode',
  'traffic.sidecar.istio.io/includeInboundPorts',
  'traffic.sidecar.istio.io/excludeInboundPorts',
  'traffic.sidecar.istio.io/includeOutboundIPRanges',
]);

/**
 * Istio's annotations.AlphaAnalyzer (not in the default set, as in Istio): Istio annotations of
 * alpha-phase features on Namespaces, Services, Pods and Deployments.
 */
export const alphaAnnotationsAnalyzer: Analyzer = {
  name: 'annotations.AlphaAnalyzer',
  description: 'Checks for alpha Istio annotations in Kubernetes resources',
  messages: ['AlphaAnnotation'],
  optional: true,
  analyze(ctx) {
    for (const kind of ['Namespace', 'Service', 'Pod', 'Deployment']) {
      for (const r of ctx.list(kind)) {
        const cniManaged = kind === 'Pod' && objs((r.spec as Obj).initContainers).some((c) => str(c.name) === 'istio-validation');
        for (const name of Object.keys(r.metadata.annotations ?? {})) {
          if (!isIstioAnnotation(name) || ALWAYS_IGNORED_ANNOTATIONS.has(name)) continue;
          const info = lookupAnnotation(name);
          if (!info || info.status !== undefined) continue;
          if (cniManaged && SET_BY_CNI.has(name)) continue;
          ctx.report(r, 'AlphaAnnotation', name);
        }
      }
    }
  },
};
