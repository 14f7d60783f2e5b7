import { isDeepStrictEqual } from 'node:util';
import { resourceKey, type ConfigResource } from '../../api/config-resource.ts';
import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import type { GeneratorRegistry } from '../generate/generator-registry.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';

/**
 * The store as it would be after a change: the resources in force, with some replaced or added
 * (`put`) and some removed (`remove`). Unchanged resources are the store's own objects.
 */
export class OverlayConfig implements ConfigStoreReader {
  private readonly base: ConfigStoreReader;
  private readonly puts = new Map<string, ConfigResource>();
  private readonly removed = new Set<string>();

  constructor(base: ConfigStoreReader, put: readonly ConfigResource[], remove: readonly ConfigResource[] = []) {
    this.base = base;
    for (const r of put) this.puts.set(resourceKey(r), r);
    for (const r of remove) this.removed.add(resourceKey(r));
  }

  list(kind: string, namespace?: string): readonly ConfigResource[] {
    const keep = this.base.list(kind, namespace).filter((r) => !this.removed.has(resourceKey(r)) && !this.puts.has(resourceKey(r)));
    const added = [...this.puts.values()].filter((r) => r.kind === kind && (namespace === undefined || r.metadata.namespace === namespace));
    const order = (r: ConfigResource): string => `${r.metadata.namespace ?? ''}/${r.metadata.name}`;
    return [...keep, ...added].sort((a, b) => order(a).localeCompare(order(b)));
  }

  get(kind: string, namespace: string | undefined, name: string): ConfigResource | undefined {
    return this.list(kind, namespace).find((r) => r.metadata.name === name);
  }

  all(): readonly ConfigResource[] {
    const kinds = new Set([...this.base.all().map((r) => r.kind), ...[...this.puts.values()].map((r) => r.kind)]);
    return [...kinds].flatMap((k) => this.list(k));
  }

  revision(): number {
    return this.base.revision() + 1;
  }
}

/** The xDS types a what-if compares, with istioctl's names. */
const TYPES: readonly [string, WhatIfType][] = [
  [TYPE_URL.listener, 'listeners'],
  [TYPE_URL.route, 'routes'],
  [TYPE_URL.cluster, 'clusters'],
  [TYPE_URL.endpoint, 'endpoints'],
];

export type WhatIfType = 'listeners' | 'routes' | 'clusters' | 'endpoints';

/** One resource of one proxy that the change would add, remove or modify. */
export interface ResourceChange {
  type: WhatIfType;
  name: string;
  change: 'added' | 'removed' | 'modified';
  /** For a modified resource: `- path: before` / `+ path: after` lines, at most `maxLines`. */
  fields: string[];
}

export interface ProxyChanges {
  /** `POD.NAMESPACE`, as proxy-status names it. */
  proxy: string;
  changes: ResourceChange[];
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** An array whose items all have a distinct `name` is shown keyed by name (virtual hosts, routes, filters). */
function keyOf(items: unknown[]): ((i: number) => string) | undefined {
  const names = items.map((x) => (typeof x === 'object' && x !== null ? (x as { name?: unknown }).name : undefined));
  if (names.every((n) => typeof n === 'string') && new Set(names).size === names.length) return (i) => names[i] as string;
  return undefined;
}

/** Leaf-level differences between two JSON values, as `- path: old` / `+ path: new` lines. */
export function jsonDiff(a: unknown, b: unknown, path = '', out: string[] = []): string[] {
  if (isDeepStrictEqual(a, b)) return out;
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (Array.isArray(a) && Array.isArray(b)) {
    const ka = keyOf(a);
    const kb = keyOf(b);
    if (ka && kb) {
      const byName = new Map(b.map((x, i) => [kb(i), x]));
      const seen = new Set<string>();
      a.forEach((x, i) => {
        const k = ka(i);
        seen.add(k);
        if (byName.has(k)) jsonDiff(x, byName.get(k), `${path}[${k}]`, out);
        else out.push(`- ${path}[${k}]`);
      });
      b.forEach((_, i) => {
        if (!seen.has(kb(i))) out.push(`+ ${path}[${kb(i)}]`);
      });
      return out;
    }
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length) out.push(`+ ${path}[${i}]: ${show(b[i])}`);
      else if (i >= b.length) out.push(`- ${path}[${i}]: ${show(a[i])}`);
      else jsonDiff(a[i], b[i], `${path}[${i}]`, out);
    }
    return out;
  }
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in b)) out.push(`- ${p}: ${show(a[k])}`);
      else if (!(k in a)) out.push(`+ ${p}: ${show(b[k])}`);
      else jsonDiff(a[k], b[k], p, out);
    }
    return out;
  }
  out.push(`- ${path}: ${show(a)}`, `+ ${path}: ${show(b)}`);
  return out;
}

/**
 * What each proxy's xDS would become: every resource its generators give under `after` compared
 * with what they give under `before` (the push context in force), by type and name. Generation
 * is pure, so unchanged resources compare equal.
 */
export function proxyChanges(before: PushContext, after: PushContext, proxies: readonly ProxyInfo[], generators: GeneratorRegistry, maxLines = 40): ProxyChanges[] {
  const out: ProxyChanges[] = [];
  for (const proxy of proxies) {
    const changes: ResourceChange[] = [];
    for (const [typeUrl, type] of TYPES) {
      const g = generators.get(typeUrl, proxy);
      if (!g) continue;
      const was = new Map(g.generate(proxy, before, {}).map((r) => [r.name, r.resource]));
      const now = new Map(g.generate(proxy, after, {}).map((r) => [r.name, r.resource]));
      for (const [name, r] of now) {
        const old = was.get(name);
        if (old === undefined) changes.push({ type, name, change: 'added', fields: [] });
        else if (!isDeepStrictEqual(old, r)) {
          const lines = jsonDiff(old, r);
          changes.push({ type, name, change: 'modified', fields: lines.length > maxLines ? [...lines.slice(0, maxLines), `... ${lines.length - maxLines} more`] : lines });
        }
      }
      for (const name of was.keys()) if (!now.has(name)) changes.push({ type, name, change: 'removed', fields: [] });
    }
    out.push({ proxy: `${proxy.podName}.${proxy.namespace}`, changes });
  }
  return out.sort((a, b) => a.proxy.localeCompare(b.proxy));
}
