import { NameInterner } from './name-interner.ts';

/** One SotW subscription, as every stream that sends the same names shares it. Never mutated. */
export interface SharedSubscription {
  /** The request asked for `*` (wildcard) among its names. */
  readonly star: boolean;
  /** The names other than `*`. */
  readonly explicit: Set<string>;
  /** `explicit` sorted, interned (the same array for every equal set: see NameInterner). */
  readonly nameList: readonly string[];
}

/** Decoded names and the request bytes they came from (a copy owned by the cache). */
export interface SharedNames {
  readonly names: readonly string[];
  readonly raw: Buffer;
}

/**
 * SotW subscriptions shared across streams. A thousand sidecars of one namespace subscribe to the
 * same thousand EDS clusters with the same 40 KB of names, byte for byte: decoded once here (by
 * the names' bytes), they are one frozen array, and its set and sorted list are derived once,
 * instead of a million strings, a thousand sets and a thousand sorts at every initial sync.
 * Bounded: the least recently used byte strings are forgotten past `maxEntries` (streams keep
 * their arrays; only later sharing is lost).
 */
export class SubscriptionCache {
  private readonly byBytes = new Map<string, SharedNames>();
  private readonly derived = new WeakMap<readonly string[], SharedSubscription>();
  private readonly interner: NameInterner;
  private readonly maxEntries: number;

  constructor(interner = new NameInterner(), maxEntries = 256) {
    this.interner = interner;
    this.maxEntries = maxEntries;
  }

  /**
   * The names `raw` encodes (decoded by `decode` on a miss), the same frozen array for the same
   * bytes, with one copy of those bytes that every stream sending them keeps to compare the next
   * request with (10,000 sidecars would otherwise hold 10,000 copies of the same 40 KB).
   */
  namesOf(raw: Buffer, decode: () => string[]): SharedNames {
    const key = raw.toString('latin1');
    const known = this.byBytes.get(key);
    if (known) {
      this.byBytes.delete(key);
      this.byBytes.set(key, known);
      return known;
    }
    const entry: SharedNames = { names: Object.freeze(decode()), raw: Buffer.from(raw) };
    this.byBytes.set(key, entry);
    if (this.byBytes.size > this.maxEntries) this.byBytes.delete(this.byBytes.keys().next().value!);
    return entry;
  }

  /** What a request's names mean (derived once per array). */
  subscription(names: readonly string[]): SharedSubscription {
    let sub = this.derived.get(names);
    if (!sub) {
      const explicit = new Set<string>();
      let star = false;
      for (const n of names) {
        if (n === '*') star = true;
        else explicit.add(n);
      }
      sub = { star, explicit, nameList: this.interner.intern(explicit) };
      this.derived.set(names, sub);
    }
    return sub;
  }

  /** A name set as a sorted array, the same array for every equal set. */
  intern(names: ReadonlySet<string>): readonly string[] {
    return this.interner.intern(names);
  }
}
