import type { ConfigResource } from '../../api/config-resource.ts';
import type { AnalysisContext } from './analysis-context.ts';
import { selectorMatches, selectorString } from './label-selector.ts';

/** How policies of one kind (Sidecar, Telemetry, ...) select workloads in their namespace. */
export interface WorkloadSelection {
  /** Policies without a selector, by namespace. */
  namespaceWide: Map<string, ConfigResource[]>;
  /** Policies with a selector matching no pod in their namespace, with the selector as text. */
  unmatched: { policy: ConfigResource; selector: string }[];
  /** For each selected pod, the policies selecting it. */
  byPod: Map<ConfigResource, ConfigResource[]>;
}

/** Match each policy's selector (labels from `labelsOf`, empty = namespace-wide) against pods of its namespace. */
export function selectWorkloads(ctx: AnalysisContext, policies: readonly ConfigResource[], labelsOf: (p: ConfigResource) => Record<string, string>): WorkloadSelection {
  const out: WorkloadSelection = { namespaceWide: new Map(), unmatched: [], byPod: new Map() };
  for (const p of policies) {
    const ns = p.metadata.namespace ?? '';
    const labels = labelsOf(p);
    if (Object.keys(labels).length === 0) {
      out.namespaceWide.set(ns, [...(out.namespaceWide.get(ns) ?? []), p]);
      continue;
    }
    let found = false;
    for (const pod of ctx.list('Pod')) {
      if ((pod.metadata.namespace ?? '') !== ns || !selectorMatches(labels, pod.metadata.labels)) continue;
      found = true;
      out.byPod.set(pod, [...(out.byPod.get(pod) ?? []), p]);
    }
    if (!found) out.unmatched.push({ policy: p, selector: selectorString(labels) });
  }
  return out;
}

/** Names of policies as Istio lists them in messages (`a,b`). */
export function policyNames(list: readonly ConfigResource[]): string[] {
  return list.map((p) => p.metadata.name);
}
