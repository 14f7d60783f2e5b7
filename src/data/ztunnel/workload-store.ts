import type { ZAuthorization, ZService, ZWorkload } from './workload-model.ts';

/**
 * ztunnel's proxy state (zt:src/state): workloads by uid and by `network/IP`, services by
 * `namespace/hostname` and by VIP, the workloads behind each service, and authorization
 * policies by key and by scope (GLOBAL under '', NAMESPACE under its namespace). Updated by the
 * workload xDS client; listeners hear about every applied change (policy re-checks, pending
 * lookups).
 */
export type StoreChange = { kind: 'workload' | 'service' | 'policy'; key: string };

export class WorkloadStore {
  private readonly workloads = new Map<string, ZWorkload>();
  private readonly workloadsByAddress = new Map<string, ZWorkload>();
  private readonly workloadsByName = new Map<string, ZWorkload>();
  private readonly services = new Map<string, ZService>();
  private readonly servicesByVip = new Map<string, ZService>();
  private readonly servicesByHostname = new Map<string, ZService[]>();
  private readonly endpoints = new Map<string, Set<string>>();
  private readonly policies = new Map<string, ZAuthorization>();
  private readonly policiesByScope = new Map<string, Set<string>>();
  private readonly listeners = new Set<(changes: readonly StoreChange[]) => void>();
  /** Resources keyed by xDS name, to undo an update or removal (a service's name is its key). */
  private readonly addressNames = new Map<string, { kind: 'workload' | 'service'; key: string }>();

  // ---- reads

  workload(uid: string): ZWorkload | undefined {
    return this.workloads.get(uid);
  }

  workloadAt(network: string, ip: string): ZWorkload | undefined {
    return this.workloadsByAddress.get(`${network}/${ip}`);
  }

  /** A workload by namespace and name (how a ZDS-announced pod finds its Workload). */
  workloadNamed(namespace: string, name: string): ZWorkload | undefined {
    return this.workloadsByName.get(`${namespace}/${name}`);
  }

  service(key: string): ZService | undefined {
    return this.services.get(key);
  }

  serviceAt(network: string, ip: string): ZService | undefined {
    return this.servicesByVip.get(`${network}/${ip}`);
  }

  /** Services with this hostname (one per namespace that declares it). */
  servicesNamed(hostname: string): readonly ZService[] {
    return this.servicesByHostname.get(hostname) ?? [];
  }

  /** Workloads behind a service (namespace/hostname). */
  serviceEndpoints(key: string): ZWorkload[] {
    const out: ZWorkload[] = [];
    for (const uid of this.endpoints.get(key) ?? []) {
      const w = this.workloads.get(uid);
      if (w) out.push(w);
    }
    return out;
  }

  policy(key: string): ZAuthorization | undefined {
    return this.policies.get(key);
  }

  /** Every policy that applies to a workload: its namespace's, the mesh's, and its selector ones. */
  policiesFor(w: Pick<ZWorkload, 'namespace' | 'authorizationPolicies'>): ZAuthorization[] {
    const keys = new Set<string>([...(this.policiesByScope.get(w.namespace) ?? []), ...(this.policiesByScope.get('') ?? []), ...w.authorizationPolicies]);
    const out: ZAuthorization[] = [];
    for (const k of keys) {
      const p = this.policies.get(k);
      if (p) out.push(p);
    }
    return out;
  }

  allWorkloads(): IterableIterator<ZWorkload> {
    return this.workloads.values();
  }

  allServices(): IterableIterator<ZService> {
    return this.services.values();
  }

  allPolicies(): IterableIterator<ZAuthorization> {
    return this.policies.values();
  }

  /** Does the store hold this xDS name (or alias target)? */
  hasAddress(name: string): boolean {
    return this.addressNames.has(name) || this.workloadsByAddress.has(name) || this.servicesByVip.has(name);
  }

  onChange(listener: (changes: readonly StoreChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  // ---- writes (from xDS)

  /** Apply a batch of Address updates and removals (by xDS name). */
  applyAddresses(updates: readonly { name: string; workload?: ZWorkload; service?: ZService }[], removed: readonly string[]): void {
    const changes: StoreChange[] = [];
    for (const name of removed) {
      const c = this.removeAddress(name);
      if (c) changes.push(c);
    }
    for (const u of updates) {
      this.removeAddress(u.name);
      if (u.workload) {
        this.putWorkload(u.workload);
        this.addressNames.set(u.name, { kind: 'workload', key: u.workload.uid });
        changes.push({ kind: 'workload', key: u.workload.uid });
      } else if (u.service) {
        this.putService(u.service);
        this.addressNames.set(u.name, { kind: 'service', key: u.service.key });
        changes.push({ kind: 'service', key: u.service.key });
      }
    }
    this.emit(changes);
  }

  applyPolicies(updates: readonly ZAuthorization[], removed: readonly string[]): void {
    const changes: StoreChange[] = [];
    for (const key of removed) {
      if (this.removePolicy(key)) changes.push({ kind: 'policy', key });
    }
    for (const p of updates) {
      this.removePolicy(p.key);
      this.policies.set(p.key, p);
      if (p.scope !== 'WORKLOAD_SELECTOR') {
        const scope = p.scope === 'GLOBAL' ? '' : p.namespace;
        let set = this.policiesByScope.get(scope);
        if (!set) this.policiesByScope.set(scope, (set = new Set()));
        set.add(p.key);
      }
      changes.push({ kind: 'policy', key: p.key });
    }
    this.emit(changes);
  }

  private emit(changes: readonly StoreChange[]): void {
    if (changes.length === 0) return;
    for (const l of [...this.listeners]) l(changes);
  }

  private removePolicy(key: string): boolean {
    const p = this.policies.get(key);
    if (!p) return false;
    this.policies.delete(key);
    this.policiesByScope.get(p.scope === 'GLOBAL' ? '' : p.namespace)?.delete(key);
    return true;
  }

  private removeAddress(name: string): StoreChange | undefined {
    const known = this.addressNames.get(name);
    if (!known) return undefined;
    this.addressNames.delete(name);
    if (known.kind === 'workload') {
      const w = this.workloads.get(known.key);
      if (!w) return undefined;
      this.workloads.delete(w.uid);
      for (const ip of w.ips) if (this.workloadsByAddress.get(`${w.network}/${ip}`) === w) this.workloadsByAddress.delete(`${w.network}/${ip}`);
      if (this.workloadsByName.get(`${w.namespace}/${w.name}`) === w) this.workloadsByName.delete(`${w.namespace}/${w.name}`);
      for (const key of w.services.keys()) this.endpoints.get(key)?.delete(w.uid);
      return { kind: 'workload', key: w.uid };
    }
    const s = this.services.get(known.key);
    if (!s) return undefined;
    this.services.delete(s.key);
    for (const v of s.vips) if (this.servicesByVip.get(`${v.network}/${v.ip}`) === s) this.servicesByVip.delete(`${v.network}/${v.ip}`);
    const same = (this.servicesByHostname.get(s.hostname) ?? []).filter((x) => x !== s);
    if (same.length > 0) this.servicesByHostname.set(s.hostname, same);
    else this.servicesByHostname.delete(s.hostname);
    return { kind: 'service', key: s.key };
  }

  private putWorkload(w: ZWorkload): void {
    this.workloads.set(w.uid, w);
    for (const ip of w.ips) this.workloadsByAddress.set(`${w.network}/${ip}`, w);
    // ServiceEntry endpoints share their entry's name: a pod's name wins.
    const named = this.workloadsByName.get(`${w.namespace}/${w.name}`);
    if (!named || w.uid.includes('/Pod/') || !named.uid.includes('/Pod/')) this.workloadsByName.set(`${w.namespace}/${w.name}`, w);
    for (const key of w.services.keys()) {
      let set = this.endpoints.get(key);
      if (!set) this.endpoints.set(key, (set = new Set()));
      set.add(w.uid);
    }
  }

  private putService(s: ZService): void {
    this.services.set(s.key, s);
    for (const v of s.vips) this.servicesByVip.set(`${v.network}/${v.ip}`, s);
    const same = this.servicesByHostname.get(s.hostname) ?? [];
    this.servicesByHostname.set(s.hostname, [...same.filter((x) => x.key !== s.key), s]);
  }
}
