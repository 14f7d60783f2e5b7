import { isDeepStrictEqual } from 'node:util';
import { resourceKey, type ConfigResource } from '../../api/config-resource.ts';
import { KINDS, storeKindOf } from '../../api/kinds.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { ConfigChange, ConfigStoreReader } from './config-store-reader.ts';

/** Receives every batch of applied changes, after the store reflects them. */
export type ConfigChangeListener = (changes: readonly ConfigChange[], revision: number) => void;

export interface ConfigStoreOptions {
  log?: Logger;
  /** Namespace given to namespaced resources that have none (kubectl's rule); default `default`. */
  defaultNamespace?: string;
}

interface Held {
  resource: ConfigResource;
  /** Write order: the newest write among sources is the one in force. */
  seq: number;
}

interface Entry {
  bySource: Map<string, Held>;
  effective: ConfigResource;
}

const CLUSTER_SCOPED = new Set(KINDS.filter((k) => !k.namespaced).map((k) => k.storeKind));

/** The kind a resource is listed under (`KubernetesGateway` for the Gateway API's Gateway). */
const kindOf = (r: Pick<ConfigResource, 'group' | 'kind'>): string => storeKindOf(r.group, r.kind);

/** Two versions of a resource carry the same content (origin and bookkeeping ignored). */
export function sameContent(a: ConfigResource, b: ConfigResource): boolean {
  return a.apiVersion === b.apiVersion && isDeepStrictEqual(a.metadata, b.metadata) && isDeepStrictEqual(a.spec, b.spec) && isDeepStrictEqual(a.raw, b.raw);
}

/**
 * The validated configuration in force: resources from several sources (file directories,
 * memory/`mizzen apply`, later Kubernetes), keyed by group/Kind/namespace/name. When two sources
 * hold the same key the most recent write is in force; when that source drops it, the other
 * source's version comes back. Listeners get one batch per write operation. Resources handed in
 * must not be mutated afterwards (the store and its readers share them).
 */
export class ConfigStore implements ConfigStoreReader {
  private readonly entries = new Map<string, Entry>();
  private readonly byKind = new Map<string, Map<string, ConfigResource>>();
  /** `Kind/namespace/name` → resource in force, for get(). */
  private readonly byName = new Map<string, ConfigResource>();
  private readonly sortedCache = new Map<string, readonly ConfigResource[]>();
  /** Kinds whose cached sorted list was returned by list() (so must not be mutated). */
  private readonly handedOut = new Set<string>();
  private readonly listeners = new Set<ConfigChangeListener>();
  private readonly sources = new Map<string, Set<string>>();
  private readonly log: Logger;
  private readonly defaultNamespace: string;
  private rev = 0;
  private seq = 0;

  constructor(options: ConfigStoreOptions = {}) {
    this.log = options.log ?? silentLogger();
    this.defaultNamespace = options.defaultNamespace ?? 'default';
  }

  // ---- read side -------------------------------------------------------------------------

  list(kind: string, namespace?: string): readonly ConfigResource[] {
    let sorted = this.sortedCache.get(kind);
    if (!sorted) {
      sorted = [...(this.byKind.get(kind)?.values() ?? [])].sort(compareResources);
      this.sortedCache.set(kind, sorted);
    }
    this.handedOut.add(kind);
    if (namespace === undefined) return sorted;
    // Sorted by namespace first: the namespace's resources are one contiguous run.
    const from = lowerBound(sorted, namespace);
    let to = from;
    while (to < sorted.length && (sorted[to].metadata.namespace ?? '') === namespace) to++;
    return sorted.slice(from, to);
  }

  get(kind: string, namespace: string | undefined, name: string): ConfigResource | undefined {
    const ns = CLUSTER_SCOPED.has(kind) ? '' : (namespace ?? this.defaultNamespace);
    return this.byName.get(`${kind}/${ns}/${name}`);
  }

  all(): readonly ConfigResource[] {
    return [...this.byKind.keys()].sort().flatMap((k) => this.list(k));
  }

  revision(): number {
    return this.rev;
  }

  /** Keys a source currently holds (whether or not its version is the one in force). */
  sourceKeys(sourceId: string): readonly string[] {
    return [...(this.sources.get(sourceId) ?? [])].sort();
  }

  /** Listen to applied changes; returns the unsubscribe function. */
  subscribe(listener: ConfigChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  // ---- write side ------------------------------------------------------------------------

  /** Create or update resources on behalf of a source. Returns the changes applied. */
  apply(sourceId: string, resources: readonly ConfigResource[]): ConfigChange[] {
    const changes: ConfigChange[] = [];
    for (const r of resources) this.put(sourceId, this.normalize(r), changes);
    return this.commit(changes);
  }

  /** Delete resources (by identity) held by a source. Returns the changes applied. */
  delete(sourceId: string, refs: readonly Pick<ConfigResource, 'group' | 'kind' | 'metadata'>[]): ConfigChange[] {
    const changes: ConfigChange[] = [];
    for (const r of refs) this.remove(sourceId, resourceKey(this.normalize(r as ConfigResource)), changes);
    return this.commit(changes);
  }

  /**
   * Make a source's full set exactly `resources`: new keys are created, changed ones updated,
   * keys the source held before but not now deleted. Unchanged content produces no event.
   */
  replaceSource(sourceId: string, resources: readonly ConfigResource[]): ConfigChange[] {
    const changes: ConfigChange[] = [];
    const wanted = new Map<string, ConfigResource>();
    for (const r of resources) {
      const n = this.normalize(r);
      wanted.set(resourceKey(n), n);
    }
    for (const key of [...(this.sources.get(sourceId) ?? [])]) {
      if (!wanted.has(key)) this.remove(sourceId, key, changes);
    }
    for (const r of wanted.values()) this.put(sourceId, r, changes);
    return this.commit(changes);
  }

  // ---- internals -------------------------------------------------------------------------

  private normalize(r: ConfigResource): ConfigResource {
    if (CLUSTER_SCOPED.has(kindOf(r))) {
      if (r.metadata.namespace === undefined) return r;
      const { namespace: _ignored, ...metadata } = r.metadata;
      return { ...r, metadata: metadata as ConfigResource['metadata'] };
    }
    if (r.metadata.namespace) return r;
    return { ...r, metadata: { ...r.metadata, namespace: this.defaultNamespace } };
  }

  private put(sourceId: string, r: ConfigResource, changes: ConfigChange[]): void {
    const key = resourceKey(r);
    let entry = this.entries.get(key);
    const held = entry?.bySource.get(sourceId);
    if (entry && held && sameContent(held.resource, r)) {
      // Same content: no event. The held object stays (readers may cache by identity) unless
      // its origin moved (another line or file), which is refreshed for error reports.
      if (isDeepStrictEqual(held.resource.origin, r.origin)) return;
      held.resource = r;
      if (this.effectiveHolder(entry) === held) this.setEffective(key, entry, r);
      return;
    }
    const seq = ++this.seq;
    if (!entry) {
      entry = { bySource: new Map(), effective: r };
      this.entries.set(key, entry);
      entry.bySource.set(sourceId, { resource: r, seq });
      this.track(sourceId, key, true);
      this.setEffective(key, entry, r);
      changes.push(change(r, undefined, r));
      return;
    }
    entry.bySource.set(sourceId, { resource: r, seq });
    this.track(sourceId, key, true);
    const old = entry.effective;
    this.setEffective(key, entry, r);
    if (!sameContent(old, r)) changes.push(change(r, old, r));
  }

  private remove(sourceId: string, key: string, changes: ConfigChange[]): void {
    const entry = this.entries.get(key);
    if (!entry || !entry.bySource.has(sourceId)) return;
    entry.bySource.delete(sourceId);
    this.track(sourceId, key, false);
    const old = entry.effective;
    const next = this.effectiveHolder(entry);
    if (!next) {
      this.entries.delete(key);
      const kindMap = this.byKind.get(kindOf(old));
      kindMap?.delete(key);
      this.byName.delete(nameKey(old));
      if (kindMap && kindMap.size === 0) this.byKind.delete(kindOf(old));
      this.sortedCache.delete(kindOf(old));
      changes.push(change(old, old, undefined));
      return;
    }
    this.setEffective(key, entry, next.resource);
    if (!sameContent(old, next.resource)) changes.push(change(old, old, next.resource));
  }

  private effectiveHolder(entry: Entry): Held | undefined {
    let best: Held | undefined;
    for (const h of entry.bySource.values()) if (!best || h.seq > best.seq) best = h;
    return best;
  }

  private setEffective(key: string, entry: Entry, r: ConfigResource): void {
    entry.effective = r;
    const kind = kindOf(r);
    let kindMap = this.byKind.get(kind);
    if (!kindMap) {
      kindMap = new Map();
      this.byKind.set(kind, kindMap);
    }
    const replaced = kindMap.get(key);
    kindMap.set(key, r);
    this.byName.set(nameKey(r), r);
    const sorted = this.sortedCache.get(kind);
    if (sorted && replaced) {
      // An update keeps the order: swap the element in (copying first if a reader holds the list).
      const i = indexOf(sorted, replaced);
      if (i >= 0) {
        const list = this.handedOut.has(kind) ? [...sorted] : (sorted as ConfigResource[]);
        list[i] = r;
        this.sortedCache.set(kind, list);
        this.handedOut.delete(kind);
        return;
      }
    }
    this.sortedCache.delete(kind);
  }

  private track(sourceId: string, key: string, add: boolean): void {
    let keys = this.sources.get(sourceId);
    if (!keys) {
      if (!add) return;
      keys = new Set();
      this.sources.set(sourceId, keys);
    }
    if (add) keys.add(key);
    else keys.delete(key);
  }

  private commit(changes: ConfigChange[]): ConfigChange[] {
    if (changes.length === 0) return changes;
    this.rev += changes.length;
    const frozen = Object.freeze([...changes]);
    for (const listener of [...this.listeners]) {
      try {
        listener(frozen, this.rev);
      } catch (err) {
        this.log.error({ err }, 'config change listener failed');
      }
    }
    return changes;
  }
}

function change(r: ConfigResource, old: ConfigResource | undefined, next: ConfigResource | undefined): ConfigChange {
  return { kind: kindOf(r), group: r.group, namespace: r.metadata.namespace, name: r.metadata.name, old, new: next };
}

function nameKey(r: ConfigResource): string {
  return `${kindOf(r)}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
}

/** First index whose namespace is >= `namespace` in a list sorted by compareResources. */
function lowerBound(sorted: readonly ConfigResource[], namespace: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid].metadata.namespace ?? '') < namespace) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Position of `r` in a list sorted by compareResources (binary search), or -1. */
function indexOf(sorted: readonly ConfigResource[], r: ConfigResource): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compareResources(sorted[mid], r);
    if (c === 0) return sorted[mid] === r ? mid : -1;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function compareResources(a: ConfigResource, b: ConfigResource): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  return a.group < b.group ? -1 : a.group > b.group ? 1 : 0;
}
