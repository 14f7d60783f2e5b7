/**
 * One sorted array per distinct subscription: a thousand sidecars that subscribe to the same
 * thousand EDS clusters share one array, so the per-push caches (shared generation, the encoded
 * response set) recognise it by identity instead of sorting and joining 40 KB of names per proxy
 * per push. Bounded: past `maxEntries` the least recently used set is forgotten (a stream that
 * still holds its array keeps it; only sharing with later equal sets is lost).
 */
export class NameInterner {
  private readonly sets = new Map<string, readonly string[]>();
  private readonly maxEntries: number;

  constructor(maxEntries = 4096) {
    this.maxEntries = maxEntries;
  }

  intern(names: ReadonlySet<string>): readonly string[] {
    const sorted = [...names].sort();
    const key = sorted.join('\0');
    const known = this.sets.get(key);
    if (known) {
      this.sets.delete(key);
      this.sets.set(key, known);
      return known;
    }
    Object.freeze(sorted);
    this.sets.set(key, sorted);
    if (this.sets.size > this.maxEntries) this.sets.delete(this.sets.keys().next().value!);
    return sorted;
  }

  get size(): number {
    return this.sets.size;
  }
}
