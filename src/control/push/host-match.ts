/**
 * Istio host names as they appear in config: FQDNs, short names resolved against the
 * namespace of the resource that wrote them, and wildcards (`*`, `*.example.com`).
 */

/** Resolve a short name (`reviews`) to `reviews.NS.svc.SUFFIX`; FQDNs and wildcards stay. */
export function resolveShortName(host: string, namespace: string, domainSuffix: string): string {
  if (host === '*' || host.includes('.')) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

/** Does a config host (maybe wildcard) match a concrete or wildcard hostname? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host || pattern === '*') return true;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    if (host.startsWith('*.')) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  // A wildcard host (a ServiceEntry for *.example.com) is matched by a more specific pattern only
  // when the pattern is itself inside it (Istio's SubsetOf in the other direction).
  return false;
}

/** More specific patterns first: exact names, then longer wildcards, `*` last. */
export function hostSpecificity(pattern: string): number {
  if (pattern === '*') return 0;
  if (pattern.startsWith('*.')) return pattern.length;
  return 100000 + pattern.length;
}
