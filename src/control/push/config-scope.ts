/**
 * Which resources reach whom: exportTo visibility between namespaces, label selectors, and the
 * order Istio applies configs in.
 */

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
