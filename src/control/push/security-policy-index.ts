import type { ConfigResource } from '../../api/config-resource.ts';
import type { PolicyTargetReference, WorkloadSelector } from '../../api/istio/workload-selector.ts';
import { configOrder, labelsMatch } from './config-scope.ts';

/**
 * Policies that select workloads by namespace and `selector.matchLabels` (PeerAuthentication,
 * AuthorizationPolicy, RequestAuthentication): a policy in the root namespace without selector
 * is mesh-wide, one in the workload's namespace without selector is namespace-wide, and one with
 * a selector applies to the workloads it selects in its namespace (in the root namespace: all
 * namespaces). A policy with `targetRef`/`targetRefs` attaches to a Gateway API gateway, a
 * waypoint or a Service, never to a sidecar or a gateway deployment selected by labels
 * (istiod's pilot/pkg/model/policyattachment.go): `forTargets` lists them by reference.
 */
export interface PolicyTarget {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}


export class SecurityPolicyIndex<Spec extends { selector?: WorkloadSelector; targetRef?: unknown; targetRefs?: unknown[] }> {
  private readonly byNamespace = new Map<string, ConfigResource<Spec>[]>();
  private readonly targeted: ConfigResource<Spec>[];
  private readonly rootNamespace: string;

  constructor(resources: readonly ConfigResource[], kind: string, rootNamespace: string) {
    this.rootNamespace = rootNamespace;
    const all = (resources.filter((r) => r.kind === kind) as ConfigResource<Spec>[]).sort(configOrder);
    this.targeted = all.filter((r) => hasTargetRef(r.spec));
    const list = all.filter((r) => !hasTargetRef(r.spec));
    for (const r of list) {
      const ns = r.metadata.namespace ?? 'default';
      const arr = this.byNamespace.get(ns) ?? [];
      arr.push(r);
      this.byNamespace.set(ns, arr);
    }
  }

  /** Every policy that applies to a workload, root namespace first, in creation order. */
  forWorkload(namespace: string, labels: Readonly<Record<string, string>>): ConfigResource<Spec>[] {
    const out: ConfigResource<Spec>[] = [];
    const namespaces = namespace === this.rootNamespace ? [namespace] : [this.rootNamespace, namespace];
    for (const ns of namespaces) {
      for (const r of this.byNamespace.get(ns) ?? []) {
        if (labelsMatch(r.spec?.selector?.matchLabels, labels)) out.push(r);
      }
    }
    return out;
  }

  /** Split by scope, for kinds where the narrower scope wins (PeerAuthentication). */
  scoped(namespace: string, labels: Readonly<Record<string, string>>): { mesh?: ConfigResource<Spec>; namespace?: ConfigResource<Spec>; workload?: ConfigResource<Spec> } {
    const noSelector = (r: ConfigResource<Spec>): boolean => !r.spec?.selector?.matchLabels || Object.keys(r.spec.selector.matchLabels).length === 0;
    const mesh = (this.byNamespace.get(this.rootNamespace) ?? []).find(noSelector);
    const nsList = this.byNamespace.get(namespace) ?? [];
    const nsWide = namespace === this.rootNamespace ? mesh : nsList.find(noSelector);
    const workload = nsList.find((r) => !noSelector(r) && labelsMatch(r.spec?.selector?.matchLabels, labels));
    return { mesh, namespace: nsWide, workload };
  }

  /**
   * Policies whose `targetRef`/`targetRefs` name one of `targets` (in creation order). A reference
   * resolves in the policy's own namespace; a GatewayClass reference counts from the root
   * namespace only (mesh-wide waypoint defaults).
   */
  forTargets(targets: readonly PolicyTarget[]): ConfigResource<Spec>[] {
    return this.targeted.filter((r) => {
      const ns = r.metadata.namespace ?? 'default';
      const refs = [...(r.spec?.targetRef ? [r.spec.targetRef as PolicyTargetReference] : []), ...((r.spec?.targetRefs ?? []) as PolicyTargetReference[])];
      return refs.some((ref) =>
        targets.some((t) => {
          if (ref.kind !== t.kind || ref.name !== t.name || (ref.group ?? '') !== t.group) return false;
          if (t.kind === 'GatewayClass') return ns === this.rootNamespace;
          return (ref.namespace ?? ns) === t.namespace && ns === t.namespace;
        }),
      );
    });
  }

  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }
}

function hasTargetRef(spec: { targetRef?: unknown; targetRefs?: unknown[] } | undefined): boolean {
  return spec?.targetRef !== undefined || (Array.isArray(spec?.targetRefs) && spec.targetRefs.length > 0);
}
