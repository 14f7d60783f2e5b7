/** Istio host name rules (pkg/config/host): wildcard matching, subsets and FQDN expansion. */

export function isWildcard(h: string): boolean {
  return h.startsWith('*');
}

/** Whether two host names (either may be a `*.suffix` wildcard) can match a common host. */
export function hostMatches(a: string, b: string): boolean {
  const aw = isWildcard(a);
  const bw = isWildcard(b);
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** Whether every host matched by `a` is also matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (a === b) return true;
  if (!isWildcard(b)) return false;
  if (isWildcard(a)) return a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  return a.endsWith(b.slice(1));
}

/**
 * Hosts of `ns/host` entries (Gateway servers, Sidecar egress) visible to a namespace: entries
 * without a namespace part, with `*`, or with that namespace.
 */
export function hostsForNamespace(hosts: readonly string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const slash = h.indexOf('/');
    if (slash < 0) out.push(h);
    else {
      const ns = h.slice(0, slash);
      if (ns === '*' || ns === namespace) out.push(h.slice(slash + 1));
    }
  }
  return out;
}

/** Short names become `name.namespace.svc.DOMAIN`; wildcards and dotted names stay as they are. */
export function toFqdn(namespace: string, host: string, clusterDomain = 'cluster.local'): string {
  if (host.startsWith('*') || host.includes('.') || namespace === '') return host;
  return `${host}.${namespace}.svc.${clusterDomain}`;
}
