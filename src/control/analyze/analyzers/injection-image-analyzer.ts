import type { Analyzer } from '../analyzer.ts';
import { INJECTION_LABEL, REVISION_LABEL } from '../injection-status.ts';
import { injectedProxyImage, injectorValues } from '../injector-config.ts';
import { objs, str, type Obj } from '../untyped-fields.ts';

/** Image variants (`-distroless`, `-debug`) are chosen per pod; compare without them. */
function withoutVariant(image: string): string {
  return image.replace(/-(distroless|debug)$/, '');
}

/**
 * Istio's injection.ImageAnalyzer: proxies running in an injected namespace should run the image
 * the injector would inject now (pods predating an upgrade need a restart).
 */
export const injectionImageAnalyzer: Analyzer = {
  name: 'injection.ImageAnalyzer',
  description: 'Checks the image of auto-injection configured with the running proxies on pods',
  messages: ['PodsIstioProxyImageMismatchInNamespace'],
  analyze(ctx) {
    for (const ns of ctx.list('Namespace')) {
      const labels = ns.metadata.labels ?? {};
      let revision: string;
      if (labels[REVISION_LABEL] !== undefined) revision = labels[REVISION_LABEL];
      else if (labels[INJECTION_LABEL] === 'enabled') revision = '';
      else continue;
      const values = injectorValues(ctx, revision);
      if (!values) continue;
      const want = withoutVariant(injectedProxyImage(values));
      const mismatched: string[] = [];
      for (const pod of ctx.list('Pod')) {
        if ((pod.metadata.namespace ?? '') !== ns.metadata.name) continue;
        if (pod.metadata.annotations?.['sidecar.istio.io/proxyImage'] !== undefined) continue;
        const spec = pod.spec as Obj;
        const proxy = [...objs(spec.containers), ...objs(spec.initContainers)].find((c) => str(c.name) === 'istio-proxy');
        if (!proxy) continue;
        if (withoutVariant(str(proxy.image)) !== want) mismatched.push(pod.metadata.name);
      }
      if (mismatched.length > 0) ctx.report(ns, 'PodsIstioProxyImageMismatchInNamespace', mismatched);
    }
  },
};
