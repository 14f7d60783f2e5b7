import type { Workload } from './service.ts';

type LabelMap = Map<string, Map<string, Workload[]>>;

/**
 * Workloads indexed by namespace, label key and value (nested maps: no key strings to build),
 * so selecting a service's workloads costs the size of the smallest matching label set rather
 * than a scan of every workload.
 */
export class WorkloadIndex {
  private readonly namespaces = new Map<string, { labels: LabelMap; byName: Map<string, Workload>; byAddress: Map<string, Workload> }>();

  constructor(workloads: readonly Workload[]) {
    for (const w of workloads) {
      let ns = this.namespaces.get(w.namespace);
      if (!ns) {
        ns = { labels: new Map(), byName: new Map(), byAddress: new Map() };
        this.namespaces.set(w.namespace, ns);
      }
      for (const k in w.labels) {
        let values = ns.labels.get(k);
        if (!values) {
          values = new Map();
          ns.labels.set(k, values);
        }
        const v = w.labels[k];
        const list = values.get(v);
        if (list) list.push(w);
        else values.set(v, [w]);
      }
      if (w.kind === 'Pod') ns.byName.set(w.name, w);
      if (!ns.byAddress.has(w.address) || w.kind === 'Pod') ns.byAddress.set(w.address, w);
    }
  }

  /** Workloads of a namespace carrying every label of a non-empty selector, in input order. */
  select(namespace: string, selector: Readonly<Record<string, string>> | undefined, kind?: Workload['kind']): Workload[] {
    const ns = this.namespaces.get(namespace);
    if (!ns || !selector) return [];
    let smallest: readonly Workload[] | undefined;
    let count = 0;
    for (const k in selector) {
      count++;
      const list = ns.labels.get(k)?.get(selector[k]);
      if (!list) return [];
      if (!smallest || list.length < smallest.length) smallest = list;
    }
    if (count === 0 || !smallest) return [];
    const out: Workload[] = [];
    outer: for (const w of smallest) {
      if (kind && w.kind !== kind) continue;
      for (const k in selector) if (w.labels[k] !== selector[k]) continue outer;
      out.push(w);
    }
    return out;
  }

  /** A pod by name. */
  pod(namespace: string, name: string): Workload | undefined {
    return this.namespaces.get(namespace)?.byName.get(name);
  }

  /** The workload at an address in a namespace (a Pod when several). */
  at(namespace: string, address: string): Workload | undefined {
    return this.namespaces.get(namespace)?.byAddress.get(address);
  }
}
