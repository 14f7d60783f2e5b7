/**
 * Translate a Kubernetes structural OpenAPI v3 schema (as found in a CRD) into a JSON Schema
 * that ajv compiles: Kubernetes extensions become plain JSON Schema, unknown fields become
 * errors (as `istioctl validate` rejects them), and the CEL rules are left in place under
 * their own keyword (ajv ignores them; `cel-rules.ts` evaluates them).
 */
export type JsonSchema = Record<string, unknown>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DROP = new Set(['description', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource']);

/**
 * @param closeObjects reject properties a schema does not declare (Kubernetes prunes them;
 * Istio's own validation rejects them). The top level of a resource is left open.
 */
export function toJsonSchema(s: unknown, closeObjects = true): JsonSchema {
  if (!isObject(s)) return {};
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(s)) {
    if (DROP.has(k)) continue;
    if (k === 'properties' && isObject(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, toJsonSchema(sub, closeObjects)]));
    } else if (k === 'items' || k === 'additionalProperties' || k === 'not') {
      out[k] = isObject(v) ? toJsonSchema(v, closeObjects) : v;
    } else if ((k === 'oneOf' || k === 'anyOf' || k === 'allOf') && Array.isArray(v)) {
      // Value-constraint branches: they must not close objects themselves (they only list
      // `required`), the enclosing schema decides which properties exist.
      out[k] = v.map((b) => toJsonSchema(b, false));
    } else {
      out[k] = v;
    }
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    if (!out.anyOf) out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (closeObjects && !preserve && out.type === 'object' && out.properties && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  if (s.nullable === true && typeof out.type === 'string') {
    // Kubernetes: null is accepted (and pruned) for nullable fields.
    out.type = [out.type, 'null'];
    delete out.nullable;
  }
  return out;
}
