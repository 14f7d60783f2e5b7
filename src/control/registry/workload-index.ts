import type { Workload } from './service.ts';

interface NamespaceIndex {
  labels: Map<string, Map<string, Set<Workload>>>;
  byName: Map<string, Workload>;
  byAddress: Map<string, Workload[]>;
}

/** Beyond this many replaced workloads an update rebuilds instead. */
const MAX_INCREMENTAL = 256;

/**
 * Workloads indexed by namespace, label key and value (nested maps: no key strings to build),
 * so selecting a service's workloads costs the size of the smallest matching label set rather
 * than a scan of every workload. `update` applies in-place replacements (a pod that changed)
 * without rebuilding; the index belongs to one RegistryBuilder and is never shared.
 */
export class WorkloadIndex {
  private readonly namespaces = new Map<string, NamespaceIndex>();

  constructor(workloads: readonly Workload[]) {
    for (const w of workloads) this.add(w);
  }

  /**
   * Move the index from `prev` to `next` when they differ only by replaced elements (same
   * length, few positions changed). Returns false, changing nothing, when a rebuild is due.
   */
  update(prev: readonly Workload[], next: readonly Workload[]): boolean {
    if (prev.length !== next.length) return false;
    const changed: number[] = [];
    for (let i = 0; i < next.length; i++) {
      if (prev[i] !== next[i]) {
        changed.push(i);
        if (changed.length > MAX_INCREMENTAL) return false;
      }
    }
    for (const i of changed) this.remove(prev[i]);
    for (const i of changed) this.add(next[i]);
    return true;
  }

  /** Workloads of a namespace carrying every label of a non-empty selector. */
  select(namespace: string, selector: Readonly<Record<string, string>> | undefined, kind?: Workload['kind']): Workload[] {
    const ns = this.namespaces.get(namespace);
    if (!ns || !selector) return [];
    let smallest: ReadonlySet<Workload> | undefined;
    let count = 0;
    for (const k in selector) {
      count++;
      const set = ns.labels.get(k)?.get(selector[k]);
      if (!set || set.size === 0) return [];
      if (!smallest || set.size < smallest.size) smallest = set;
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
    const list = this.namespaces.get(namespace)?.byAddress.get(address);
    return list?.find((w) => w.kind === 'Pod') ?? list?.[0];
  }

  private add(w: Workload): void {
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
      const set = values.get(v);
      if (set) set.add(w);
      else values.set(v, new Set([w]));
    }
    if (w.kind === 'Pod') ns.byName.set(w.name, w);
    const at = ns.byAddress.get(w.address);
    if (at) at.push(w);
    else ns.byAddress.set(w.address, [w]);
  }

  private remove(w: Workload): void {
    const ns = this.namespaces.get(w.namespace);
    if (!ns) return;
    for (const k in w.labels) ns.labels.get(k)?.get(w.labels[k])?.delete(w);
    if (ns.byName.get(w.name) === w) ns.byName.delete(w.name);
    const at = ns.byAddress.get(w.address);
    if (at) {
      const rest = at.filter((x) => x !== w);
      if (rest.length > 0) ns.byAddress.set(w.address, rest);
      else ns.byAddress.delete(w.address);
    }
  }
}
