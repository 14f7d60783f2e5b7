import type { ConfigResource } from '../../../api/config-resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { podTemplate } from '../injection-status.ts';
import { selectorMatches } from '../label-selector.ts';
import { ServiceHostIndex } from '../service-host-index.ts';
import { obj, objs, str, stringMap, strs, type Obj } from '../untyped-fields.ts';

/**
 * A pod's labels plus the labels Istio's registry adds to its endpoints from the node: locality
 * (region, zone, subzone) and host name.
 */
function endpointLabels(ctx: AnalysisContext, pod: ConfigResource): Record<string, string> {
  const labels = { ...(pod.metadata.labels ?? {}) };
  const nodeName = str((pod.spec as Obj).nodeName);
  const node = nodeName === '' ? undefined : ctx.get('Node', '', nodeName, '');
  if (node) {
    const nl = node.metadata.labels ?? {};
    const set = (k: string, v: string | undefined): void => {
      if (v !== undefined && v !== '') labels[k] = v;
    };
    set('topology.kubernetes.io/region', nl['topology.kubernetes.io/region']);
    set('topology.kubernetes.io/zone', nl['topology.kubernetes.io/zone']);
    set('topology.istio.io/subzone', nl['topology.istio.io/subzone']);
  }
  if (nodeName !== '') labels['kubernetes.io/hostname'] = nodeName;
  return labels;
}

/**
 * Istio's destinationrule.SubsetSelectPodAnalyzer (PodNotSelectedAnalyzer): a DestinationRule's
 * host must be a known service, and each subset should select some pod.
 */
export const subsetSelectPodAnalyzer: Analyzer = {
  name: 'destinationrule.SubsetSelectPodAnalyzer',
  description: 'Checks if pods are selected by subsets in destination rules',
  messages: ['UnknownDestinationRuleHost', 'DestinationRuleSubsetNotSelectPods'],
  analyze(ctx) {
    const index = new ServiceHostIndex(ctx);
    // Files describe workloads as Deployments more often than as Pods: their pod templates
    // count as the pods they will create (Istio, reading a live cluster, sees the pods).
    const workloads = [...ctx.list('Pod').map((p) => endpointLabels(ctx, p)), ...ctx.list('Deployment').map((d) => podTemplate(d).labels)];
    for (const dr of ctx.list('DestinationRule')) {
      const spec = dr.spec as Obj;
      const host = str(spec.host);
      const svc = index.lookup(dr.metadata.namespace ?? '', strs(spec.exportTo), host);
      if (!svc) {
        ctx.report(dr, 'UnknownDestinationRuleHost', host);
        continue;
      }
      const seSelector = svc.resource.kind === 'ServiceEntry' ? stringMap(obj((svc.resource.spec as Obj).workloadSelector).labels) : {};
      for (const ss of objs(spec.subsets)) {
        const selector = { ...seSelector, ...stringMap(ss.labels) };
        if (!workloads.some((l) => selectorMatches(selector, l))) ctx.report(dr, 'DestinationRuleSubsetNotSelectPods', str(ss.name));
      }
    }
  },
};
