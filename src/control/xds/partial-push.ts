import type { ProxyInfo } from './proxy-info.ts';

/**
 * A push that changed only some resources of one type (Istio's incremental EDS: a non-full push
 * whose ConfigsUpdated name the services whose endpoints moved). For SotW types Envoy tracks
 * resource by resource (EDS), the stream generates and sends only those of a proxy's subscribed
 * names that `pick` keeps, instead of generating every subscribed resource to find the few that
 * changed. The ADS server knows nothing of Istio kinds: what changed is the caller's answer.
 */
export interface PartialPush {
  readonly typeUrl: string;
  /**
   * The subscribed names of `proxy` that may have changed (an empty list: none did), or
   * undefined when this proxy needs its whole set. Called with interned name lists: answers may
   * be memoized per list object.
   */
  pick(proxy: ProxyInfo, names: readonly string[]): readonly string[] | undefined;
}

/**
 * Two queued pushes to one connection become one: both partial for the same type → the union of
 * what each picks; a push that does not send that type keeps the other's; otherwise a full push.
 */
export function mergePartialPushes(
  a: { types: ReadonlySet<string> | 'all'; partial: PartialPush | undefined },
  b: { types: ReadonlySet<string> | 'all'; partial: PartialPush | undefined },
): PartialPush | undefined {
  const sends = (types: ReadonlySet<string> | 'all', t: string): boolean => types === 'all' || types.has(t);
  if (a.partial && !sends(b.types, a.partial.typeUrl)) return a.partial;
  if (b.partial && !sends(a.types, b.partial.typeUrl)) return b.partial;
  if (!a.partial || !b.partial || a.partial.typeUrl !== b.partial.typeUrl) return undefined;
  const [x, y] = [a.partial, b.partial];
  return {
    typeUrl: x.typeUrl,
    pick(proxy, names) {
      const first = x.pick(proxy, names);
      const second = first === undefined ? undefined : y.pick(proxy, names);
      if (first === undefined || second === undefined) return undefined;
      if (second.length === 0) return first;
      if (first.length === 0) return second;
      const both = new Set([...first, ...second]);
      return names.filter((n) => both.has(n));
    },
  };
}
