import type { EncodedResource } from './resource-encoder.ts';
import type { EncodedResourceSet } from './response-encoding.ts';

function indexOf(set: EncodedResourceSet): Map<string, EncodedResource> {
  if (!set.index) set.index = new Map(set.resources.map((e) => [e.name, e]));
  return set.index;
}

/**
 * The resources a client was last sent for one type (name → encoded resource), kept as the
 * full response set it was last sent — whose name index is shared with every other proxy sent
 * the same set — plus a small per-stream overlay of what was sent since (incremental EDS/RDS
 * pushes, delta updates) and removals. With N proxies and R resources this holds O(R) shared
 * entries instead of N × R map entries.
 */
export class SentResources {
  private base: ReadonlyMap<string, EncodedResource> = new Map();
  /** Sent after the base set; `undefined` marks a base resource the client no longer has. */
  private overlay = new Map<string, EncodedResource | undefined>();
  private exact: EncodedResourceSet | undefined;

  /** The client now has exactly this set (a full SotW response, or a changed-only one that made it so). */
  replace(set: EncodedResourceSet): void {
    this.base = indexOf(set);
    this.overlay = new Map();
    this.exact = set;
  }

  /** The set the client has, when it is exactly one set (no per-stream changes since). */
  get exactSet(): EncodedResourceSet | undefined {
    return this.overlay.size === 0 ? this.exact : undefined;
  }

  get(name: string): EncodedResource | undefined {
    return this.overlay.has(name) ? this.overlay.get(name) : this.base.get(name);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The client now has this resource (added or updated). */
  set(resource: EncodedResource): void {
    this.exact = undefined;
    this.overlay.set(resource.name, resource);
    this.compact();
  }

  delete(name: string): boolean {
    const had = this.has(name);
    this.exact = undefined;
    if (this.base.has(name)) this.overlay.set(name, undefined);
    else this.overlay.delete(name);
    return had;
  }

  get size(): number {
    let n = this.base.size;
    for (const [name, e] of this.overlay) {
      const inBase = this.base.has(name);
      if (e === undefined && inBase) n--;
      else if (e !== undefined && !inBase) n++;
    }
    return n;
  }

  *entries(): IterableIterator<[string, EncodedResource]> {
    for (const [name, e] of this.base) if (!this.overlay.has(name)) yield [name, e];
    for (const [name, e] of this.overlay) if (e !== undefined) yield [name, e];
  }

  keys(): string[] {
    return Array.from(this.entries(), ([name]) => name);
  }

  values(): EncodedResource[] {
    return Array.from(this.entries(), ([, e]) => e);
  }

  /** An overlay about as large as the base is not worth sharing: own a plain map instead. */
  private compact(): void {
    if (this.overlay.size <= 64 || this.overlay.size * 2 < this.base.size) return;
    this.base = new Map(this.entries());
    this.overlay = new Map();
    this.exact = undefined;
  }
}
