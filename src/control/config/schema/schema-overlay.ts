/**
 * Fields that Istio's own validation test data (istio/istio 86c9f01) accepts but the bundled CRD
 * file (istio/api b8f8791) predates. Applied to the structural schema before compiling, so that
 * config written for that Istio release is not rejected as "unknown field". Keep this list short
 * and remove entries when the CRD file is updated.
 */
type Schema = Record<string, unknown>;

interface Overlay {
  group: string;
  kind: string;
  /** Property path from `spec` through objects and list items (`[]`). */
  path: string[];
  field: string;
  schema: Schema;
}

const OVERLAYS: readonly Overlay[] = [
  {
    group: 'security.istio.io',
    kind: 'RequestAuthentication',
    path: ['jwtRules', '[]'],
    field: 'presence',
    // JWTRule.presence: whether a token must be present (values as in newer Istio releases).
    schema: { type: 'string', enum: ['REQUIRED', 'OPTIONAL'] },
  },
];

function isObject(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Returns a copy of the schema with the overlays for this kind applied. */
export function applySchemaOverlays(group: string, kind: string, root: Schema): Schema {
  const mine = OVERLAYS.filter((o) => o.group === group && o.kind === kind);
  if (mine.length === 0) return root;
  const copy = structuredClone(root);
  for (const o of mine) {
    let node: unknown = (copy.properties as Schema | undefined)?.spec;
    for (const step of o.path) {
      if (!isObject(node)) break;
      node = step === '[]' ? node.items : (node.properties as Schema | undefined)?.[step];
    }
    if (isObject(node) && isObject(node.properties) && !(o.field in node.properties)) node.properties[o.field] = o.schema;
  }
  return copy;
}
