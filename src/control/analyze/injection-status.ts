import type { ConfigResource } from '../../api/config-resource.ts';
import type { AnalysisContext } from './analysis-context.ts';
import { objs, str, stringMap, type Obj } from './untyped-fields.ts';

export const INJECTION_LABEL = 'istio-injection';
export const REVISION_LABEL = 'istio.io/rev';
export const INJECT_ANNOTATION = 'sidecar.istio.io/inject';

/** The pod template (Deployment) or pod (Pod) metadata and spec of a workload. */
export function podTemplate(r: ConfigResource): { labels: Record<string, string>; annotations: Record<string, string>; spec: Obj } {
  if (r.kind === 'Pod') return { labels: r.metadata.labels ?? {}, annotations: r.metadata.annotations ?? {}, spec: r.spec as Obj };
  const t = (r.spec as Obj).template as Obj | undefined;
  const meta = (t?.metadata ?? {}) as Obj;
  return { labels: stringMap(meta.labels), annotations: stringMap(meta.annotations), spec: (t?.spec ?? {}) as Obj };
}

/** Whether a pod spec already has the Istio proxy container. */
export function hasIstioProxy(spec: Obj): boolean {
  return objs(spec.containers).some((c) => str(c.name) === 'istio-proxy') || objs(spec.initContainers).some((c) => str(c.name) === 'istio-proxy');
}

/**
 * Whether a workload is (or will be) in the mesh, as Istio's analyzers decide: it has the proxy,
 * or its own inject label/annotation says so, or its namespace is labelled for injection.
 */
export function workloadInMesh(ctx: AnalysisContext, r: ConfigResource): boolean {
  const t = podTemplate(r);
  if (hasIstioProxy(t.spec)) return true;
  const own = t.labels[INJECT_ANNOTATION] ?? t.annotations[INJECT_ANNOTATION];
  if (own !== undefined) return own === 'true';
  const ns = ctx.get('Namespace', '', r.metadata.namespace ?? '');
  const labels = ns?.metadata.labels ?? {};
  if (labels[INJECTION_LABEL] !== undefined) return labels[INJECTION_LABEL] === 'enabled';
  return labels[REVISION_LABEL] !== undefined;
}
