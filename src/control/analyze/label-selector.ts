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

/**
 * A Kubernetes LabelSelector (`matchLabels` + `matchExpressions`). An absent selector
 * (undefined) selects everything, as in webhooks.
 */
export function labelSelectorMatches(selector: unknown, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (typeof selector !== 'object' || selector === null) return true;
  const s = selector as { matchLabels?: unknown; matchExpressions?: unknown };
  const ml = (typeof s.matchLabels === 'object' && s.matchLabels !== null ? s.matchLabels : {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(ml)) if (labels?.[k] !== String(v)) return false;
  for (const e of Array.isArray(s.matchExpressions) ? s.matchExpressions : []) {
    const expr = (typeof e === 'object' && e !== null ? e : {}) as { key?: unknown; operator?: unknown; values?: unknown };
    const key = String(expr.key ?? '');
    const values = Array.isArray(expr.values) ? expr.values.map(String) : [];
    const has = labels !== undefined && key in labels;
    const v = labels?.[key];
    switch (String(expr.operator ?? '')) {
      case 'In':
        if (!has || !values.includes(v!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(v!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
