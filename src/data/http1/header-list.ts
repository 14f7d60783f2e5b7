/**
 * Headers as one flat array `[name0, value0, name1, value1, ...]` with lower-case names: cheap to
 * build from a parsed HTTP/1 head and to serialise back, no per-header objects.
 */
export class HeaderList {
  items: string[];

  constructor(items: string[] = []) {
    this.items = items;
  }

  get(name: string): string | undefined {
    const a = this.items;
    for (let i = 0; i < a.length; i += 2) if (a[i] === name) return a[i + 1];
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** All values of `name` joined with ", " (for multi-valued lookups). */
  getAll(name: string): string | undefined {
    let out: string | undefined;
    const a = this.items;
    for (let i = 0; i < a.length; i += 2) if (a[i] === name) out = out === undefined ? a[i + 1] : `${out}, ${a[i + 1]}`;
    return out;
  }

  add(name: string, value: string): void {
    this.items.push(name, value);
  }

  set(name: string, value: string): void {
    const a = this.items;
    let found = false;
    for (let i = 0; i < a.length; i += 2) {
      if (a[i] !== name) continue;
      if (!found) {
        a[i + 1] = value;
        found = true;
      } else {
        a.splice(i, 2);
        i -= 2;
      }
    }
    if (!found) a.push(name, value);
  }

  remove(name: string): void {
    const a = this.items;
    for (let i = 0; i < a.length; i += 2) {
      if (a[i] === name) {
        a.splice(i, 2);
        i -= 2;
      }
    }
  }

  /** Serialise as `name: value\r\n` lines. */
  serialize(): string {
    let s = '';
    const a = this.items;
    for (let i = 0; i < a.length; i += 2) s += `${a[i]}: ${a[i + 1]}\r\n`;
    return s;
  }

  toRecord(): Record<string, string> {
    const r: Record<string, string> = {};
    const a = this.items;
    for (let i = 0; i < a.length; i += 2) r[a[i]] = r[a[i]] === undefined ? a[i + 1] : `${r[a[i]]}, ${a[i + 1]}`;
    return r;
  }
}
