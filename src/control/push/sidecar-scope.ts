import type { ConfigResource } from '../../api/config-resource.ts';
import type { IstioEgressListener, SidecarSpec } from '../../api/istio/sidecar.ts';
import { configOrder, labelsMatch } from './config-scope.ts';
import { hostMatches } from './host-match.ts';

/**
 * The Sidecar resource in force for a workload: one with a matching workloadSelector in its
 * namespace, else the namespace's one without selector, else the root namespace's default.
 */
export class SidecarIndex {
  private readonly byNamespace = new Map<string, ConfigResource<SidecarSpec>[]>();
  private readonly rootNamespace: string;

  constructor(resources: readonly ConfigResource[], rootNamespace: string) {
    this.rootNamespace = rootNamespace;
    for (const r of (resources.filter((x) => x.kind === 'Sidecar') as ConfigResource<SidecarSpec>[]).sort(configOrder)) {
      const ns = r.metadata.namespace ?? 'default';
      const list = this.byNamespace.get(ns) ?? [];
      list.push(r);
      this.byNamespace.set(ns, list);
    }
  }

  forWorkload(namespace: string, labels: Readonly<Record<string, string>>): ConfigResource<SidecarSpec> | undefined {
    const list = this.byNamespace.get(namespace) ?? [];
    const selected = list.find((r) => r.spec.workloadSelector?.labels && labelsMatch(r.spec.workloadSelector.labels, labels));
    if (selected) return selected;
    const nsDefault = list.find((r) => !r.spec.workloadSelector?.labels);
    if (nsDefault) return nsDefault;
    return (this.byNamespace.get(this.rootNamespace) ?? []).find((r) => !r.spec.workloadSelector?.labels);
  }
}

/** Does a Sidecar egress listener's `hosts` (`ns/dnsName`) admit a host declared in `hostNs`? */
export function egressAdmits(egress: readonly IstioEgressListener[], proxyNs: string, host: string, hostNs: string, port?: number): boolean {
  for (const listener of egress) {
    if (port !== undefined && listener.port?.number !== undefined && listener.port.number !== port) continue;
    for (const entry of listener.hosts ?? []) {
      const slash = entry.indexOf('/');
      const ns = slash < 0 ? '*' : entry.slice(0, slash);
      const dns = slash < 0 ? entry : entry.slice(slash + 1);
      if (ns === '~') continue;
      const nsOk = ns === '*' || (ns === '.' ? hostNs === proxyNs : ns === hostNs);
      if (nsOk && hostMatches(dns, host)) return true;
    }
  }
  return false;
}
