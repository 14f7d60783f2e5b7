/**
 * Structural defaulting, as the API server applies a CRD schema's `default` values before its
 * CEL rules run: a missing property with a default gets it (a copy), recursively through
 * properties, list items and additionalProperties. The input is never mutated; parts without
 * defaults are shared, not copied. (Gateway API rules such as `size(self.group) == 0` or the
 * HTTPRoute match-count limit read defaulted fields.)
 */
type Schema = Record<string, unknown>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function withDefaults(schema: unknown, value: unknown): unknown {
  if (!isObject(schema)) return value;
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!isObject(items)) return value;
    let changed = false;
    const out = value.map((v) => {
      const d = withDefaults(items, v);
      if (d !== v) changed = true;
      return d;
    });
    return changed ? out : value;
  }
  if (!isObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  const props = schema.properties;
  if (isObject(props)) {
    for (const [k, sub] of Object.entries(props)) {
      if (!isObject(sub)) continue;
      const present = value[k];
      let next: unknown;
      if (present === undefined) next = sub.default === undefined ? undefined : withDefaults(sub, structuredClone(sub.default));
      else next = withDefaults(sub, present);
      if (next !== present) (out ??= { ...value })[k] = next;
    }
  }
  const extra = schema.additionalProperties;
  if (isObject(extra)) {
    for (const [k, v] of Object.entries(value)) {
      if (isObject(props) && k in props) continue;
      const next = withDefaults(extra, v);
      if (next !== v) (out ??= { ...value })[k] = next;
    }
  }
  return out ?? value;
}
