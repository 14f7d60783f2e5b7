import { parse } from 'yaml';
import type { ConfigResource } from '../../api/config-resource.ts';
import type { AnalysisContext } from './analysis-context.ts';
import { selectorMatches } from './label-selector.ts';
import { isObj, obj, str, stringMap, type Obj } from './untyped-fields.ts';

function imageTypeOf(proxyConfig: unknown): string {
  return str(obj(obj(proxyConfig).image).imageType);
}

/**
 * The proxy image variant (`distroless`, `debug`, ...) Istio would inject into a pod: the pod's
 * `proxy.istio.io/config` annotation, else a ProxyConfig selecting it, else its namespace's
 * ProxyConfig, else the root namespace's, else the mesh default. Empty when none sets one.
 */
export function effectiveImageType(ctx: AnalysisContext, pod: ConfigResource): string {
  const annotation = pod.metadata.annotations?.['proxy.istio.io/config'];
  if (annotation) {
    try {
      const v: unknown = parse(annotation);
      if (isObj(v) && imageTypeOf(v)) return imageTypeOf(v);
    } catch {
      // An unparseable annotation is reported by the annotation analyzer; fall through.
    }
  }
  const ns = pod.metadata.namespace ?? '';
  const configs = ctx.list('ProxyConfig', 'networking.istio.io');
  const selecting = configs.find((pc) => {
    const sel = stringMap(obj((pc.spec as Obj).selector).matchLabels);
    return (pc.metadata.namespace ?? '') === ns && Object.keys(sel).length > 0 && selectorMatches(sel, pod.metadata.labels);
  });
  const nsWide = (n: string): ConfigResource | undefined =>
    configs.find((pc) => (pc.metadata.namespace ?? '') === n && Object.keys(stringMap(obj((pc.spec as Obj).selector).matchLabels)).length === 0);
  for (const pc of [selecting, nsWide(ns), nsWide(ctx.rootNamespace)]) {
    if (pc && imageTypeOf(pc.spec)) return imageTypeOf(pc.spec);
  }
  return imageTypeOf(ctx.meshConfig.defaultConfig);
}
