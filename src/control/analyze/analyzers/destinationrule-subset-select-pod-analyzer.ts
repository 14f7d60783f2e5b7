import type { ConfigResource } from '../../../api/config-resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';
import { podTemplate } from '../injection-status.ts';
import { selectorMatches } from '../label-selector.ts';
import { resourceNameFromHost } from '../route-destinations.ts';
import { objs, str, stringMap, type Obj } from '../untyped-fields.ts';

/** Node labels Kubernetes copies onto a pod's topology (Istio matches them in subset labels). */
const TOPOLOGY_LABELS = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone', 'kubernetes.io/hostname'];

/** A pod's labels plus the topology labels of its node, as Istio's endpoint labels have them. */
function endpointLabels(ctx: AnalysisContext, pod: ConfigResource): Record<string, string> {
  const labels = { ...(pod.metadata.labels ?? {}) };
  const node = ctx.get('Node', '', str((pod.spec as Obj).nodeName), '');
  if (node) {
    for (const k of TOPOLOGY_LABELS) {
      const v = node.metadata.labels?.[k];
      if (v !== undefined && v !== '') labels[k] = v;
    }
  }
  return labels;
}

/**
 * Istio's destinationrule.PodNotSelectedAnalyzer: each subset of a DestinationRule for a
 * Kubernetes service should select some of the service's pods.
 */
export const subsetSelectPodAnalyzer: Analyzer = {
  name: 'destinationrule.SubsetSelectPodAnalyzer',
  description: 'Checks that the subsets of a DestinationRule select pods of its host',
  messages: ['DestinationRuleSubsetNotSelectPods'],
  analyze(ctx) {
    for (const dr of ctx.list('DestinationRule')) {
      const spec = dr.spec as Obj;
      const subsets = objs(spec.subsets);
      if (subsets.length === 0) continue;
      const host = str(spec.host);
      if (host.startsWith('*')) continue;
      const n = resourceNameFromHost(dr.metadata.namespace ?? '', host);
      const svc = ctx.get('Service', n.namespace, n.name);
      if (!svc) continue;
      const svcSelector = stringMap((svc.spec as Obj).selector);
      if (Object.keys(svcSelector).length === 0) continue;
      const pods = ctx
        .list('Pod')
        .filter((p) => (p.metadata.namespace ?? '') === n.namespace && selectorMatches(svcSelector, p.metadata.labels))
        .map((p) => endpointLabels(ctx, p));
      // Files describe workloads as Deployments more often than as Pods: their pod templates
      // count as the pods they will create (Istio, reading a live cluster, sees the pods).
      for (const d of ctx.list('Deployment')) {
        const labels = podTemplate(d).labels;
        if ((d.metadata.namespace ?? '') === n.namespace && selectorMatches(svcSelector, labels)) pods.push(labels);
      }
      for (const ss of subsets) {
        const labels = stringMap(ss.labels);
        if (!pods.some((l) => selectorMatches(labels, l))) ctx.report(dr, 'DestinationRuleSubsetNotSelectPods', str(ss.name));
      }
    }
  },
};
