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

/** Is a resource with this exportTo (written in `owner`) visible from namespace `viewer`? */
export function exportedTo(exportTo: readonly string[] | undefined, owner: string, viewer: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && owner === viewer) return true;
    if (e === viewer) return true;
  }
  return false;
}

/** Do the labels carry every key/value of the selector? An empty selector selects everything. */
export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** Creation order as Istio sorts configs: creationTimestamp, then namespace/name. */
export function configOrder(a: { metadata: { creationTimestamp?: string; namespace?: string; name: string } }, b: typeof a): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
