/** Kubernetes equality-based label selection (`SelectorFromSet`): an empty selector selects all. */
export function selectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const [k, v] of Object.entries(selector)) {
    if (!labels || labels[k] !== v) return false;
  }
  return true;
}

/** `k1=v1,k2=v2`, keys sorted, as Kubernetes prints a selector. */
export function selectorString(selector: Readonly<Record<string, string>>): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}
