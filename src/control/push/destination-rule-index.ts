import type { ConfigResource } from '../../api/config-resource.ts';
import type { DestinationRuleSpec } from '../../api/istio/destination-rule.ts';
import { configOrder, exportedTo, labelsMatch } from './config-scope.ts';
import { hostMatches, hostSpecificity, resolveShortName } from './host-match.ts';

export interface DestinationRuleView {
  resource: ConfigResource<DestinationRuleSpec>;
  namespace: string;
  name: string;
  /** FQDN or wildcard. */
  host: string;
  spec: DestinationRuleSpec;
}

/**
 * DestinationRules by namespace. Lookup follows Istio's precedence: a rule in the client's
 * namespace, then in the service's namespace, then in the root namespace; inside a namespace the
 * most specific host wins, then the oldest rule.
 */
export class DestinationRuleIndex {
  private readonly byNamespace = new Map<string, DestinationRuleView[]>();
  private readonly rootNamespace: string;

  constructor(resources: readonly ConfigResource[], domainSuffix: string, rootNamespace: string) {
    this.rootNamespace = rootNamespace;
    const drs = (resources.filter((r) => r.kind === 'DestinationRule') as ConfigResource<DestinationRuleSpec>[]).sort(configOrder);
    for (const r of drs) {
      const namespace = r.metadata.namespace ?? 'default';
      const spec = r.spec ?? {};
      if (!spec.host) continue;
      const view: DestinationRuleView = { resource: r, namespace, name: r.metadata.name, host: resolveShortName(spec.host, namespace, domainSuffix), spec };
      const list = this.byNamespace.get(namespace) ?? [];
      list.push(view);
      this.byNamespace.set(namespace, list);
    }
  }

  /** The rule in force for `hostname` (declared in `serviceNs`) seen by a proxy in `proxyNs`. */
  lookup(hostname: string, serviceNs: string, proxyNs: string, proxyLabels: Readonly<Record<string, string>> = {}): DestinationRuleView | undefined {
    const found = this.bestIn(proxyNs, hostname, proxyNs, proxyLabels);
    if (found) return found;
    const inService = serviceNs === proxyNs ? undefined : this.bestIn(serviceNs, hostname, proxyNs, proxyLabels);
    if (inService) return inService;
    return this.rootNamespace === proxyNs || this.rootNamespace === serviceNs ? undefined : this.bestIn(this.rootNamespace, hostname, proxyNs, proxyLabels);
  }

  private bestIn(ns: string, hostname: string, proxyNs: string, proxyLabels: Readonly<Record<string, string>>): DestinationRuleView | undefined {
    let best: DestinationRuleView | undefined;
    for (const v of this.byNamespace.get(ns) ?? []) {
      if (!hostMatches(v.host, hostname)) continue;
      if (!exportedTo(v.spec.exportTo, v.namespace, proxyNs)) continue;
      if (v.spec.workloadSelector?.matchLabels) {
        if (v.namespace !== proxyNs || !labelsMatch(v.spec.workloadSelector.matchLabels, proxyLabels)) continue;
      }
      if (!best || hostSpecificity(v.host) > hostSpecificity(best.host)) best = v;
    }
    return best;
  }

  all(): DestinationRuleView[] {
    return [...this.byNamespace.values()].flat();
  }
}
