import { parse } from 'yaml';
import type { AnalysisContext } from './analysis-context.ts';
import { isObj, obj, str, type Obj } from './untyped-fields.ts';

/**
 * The Helm values of an injector revision, from the `istio-sidecar-injector[-REV]` ConfigMap in
 * the Istio namespace (`data.values`, JSON). Undefined when there is no such ConfigMap.
 */
export function injectorValues(ctx: AnalysisContext, revision: string): Obj | undefined {
  const name = revision === '' || revision === 'default' ? 'istio-sidecar-injector' : `istio-sidecar-injector-${revision}`;
  const cm = ctx.get('ConfigMap', ctx.istioNamespace, name) ?? ctx.list('ConfigMap').find((c) => c.metadata.name === name);
  if (!cm) return undefined;
  try {
    const v: unknown = parse(str(obj(cm.spec.data).values));
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

/** The proxy image an injector revision injects: `hub/image:tag`, or `image` when it is a full reference. */
export function injectedProxyImage(values: Obj): string {
  const global = obj(values.global);
  const image = str(obj(global.proxy).image) || 'proxyv2';
  if (image.includes('/')) return image;
  return `${str(global.hub)}/${image}:${str(global.tag)}`;
}
