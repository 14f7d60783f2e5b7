import { parse } from 'yaml';
import type { Analyzer } from '../analyzer.ts';
import { INJECTION_LABEL, REVISION_LABEL } from '../injection-status.ts';
import { injectedProxyImage } from '../injector-config.ts';
import { effectiveImageType } from '../proxy-image-type.ts';
import { isObj, obj, objs, str, type Obj } from '../untyped-fields.ts';

function injectorConfigMapName(revision: string): string {
  return revision === '' || revision === 'default' ? 'istio-sidecar-injector' : `istio-sidecar-injector-${revision}`;
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
    const images = new Map<string, string>();
    for (const cm of ctx.list('ConfigMap')) {
      if (!cm.metadata.name.startsWith('istio-sidecar-injector')) continue;
      let values: unknown;
      try {
        values = parse(str(obj((cm.spec as Obj).data).values));
      } catch {
        values = undefined;
      }
      images.set(cm.metadata.name, isObj(values) ? injectedProxyImage(values) : '');
    }
    if (images.size === 0) return;
    for (const ns of ctx.list('Namespace')) {
      const labels = ns.metadata.labels ?? {};
      let revision: string;
      if (labels[REVISION_LABEL] !== undefined) revision = labels[REVISION_LABEL];
      else if (labels[INJECTION_LABEL] === 'enabled') revision = 'default';
      else continue;
      const want = images.get(injectorConfigMapName(revision));
      if (want === undefined) continue;
      const mismatched: string[] = [];
      for (const pod of ctx.list('Pod')) {
        if ((pod.metadata.namespace ?? '') !== ns.metadata.name) continue;
        if (pod.metadata.annotations?.['sidecar.istio.io/proxyImage']) continue;
        const spec = pod.spec as Obj;
        const variant = effectiveImageType(ctx, pod);
        for (const c of [...objs(spec.containers), ...objs(spec.initContainers)]) {
          if (str(c.name) !== 'istio-proxy') continue;
          const image = str(c.image);
          if (image !== want && image !== `${want}-${variant}`) mismatched.push(pod.metadata.name);
        }
      }
      if (mismatched.length > 0) ctx.report(ns, 'PodsIstioProxyImageMismatchInNamespace', mismatched);
    }
  },
};
