import type { ErrorObject } from 'ajv';
import type { ValidationIssue } from '../validation/validation-issue.ts';

/**
 * Turn ajv's errors into Kubernetes-style messages with field paths (`spec.http[0].timeout`):
 * "Required value", "Unsupported value: ...", "in body should be at least 1 chars long", ...
 * Map keys are shown as `[key]`, list items as `[i]`, properties as `.name`.
 */

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Pair the instance path segments with the schema path to tell properties, items and map keys apart. */
export function fieldPath(instancePath: string, schemaPath: string): string {
  const inst = instancePath === '' ? [] : instancePath.slice(1).split('/').map(unescapePointer);
  const sch = schemaPath.replace(/^#\//, '').split('/').map(unescapePointer);
  let out = '';
  let i = 0;
  for (let j = 0; j < sch.length && i < inst.length; j++) {
    const tok = sch[j];
    if (tok === 'properties') {
      out += out ? `.${inst[i]}` : inst[i];
      i++;
      j++;
    } else if (tok === 'items' || tok === 'additionalProperties') {
      out += `[${inst[i]}]`;
      i++;
    }
  }
  // Whatever the schema path did not explain (should not happen): append as properties.
  for (; i < inst.length; i++) out += /^\d+$/.test(inst[i]) ? `[${inst[i]}]` : out ? `.${inst[i]}` : inst[i];
  return out;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'array' : 'object';
  return String(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Names in an Istio "at most one of" oneOf: `[{not: {anyOf: [{required:[a]}, ...]}}, {required:[a]}, ...]`. */
function oneOfNames(schema: unknown): string[] {
  if (!Array.isArray(schema)) return [];
  const names: string[] = [];
  for (const b of schema as Record<string, unknown>[]) if (Array.isArray(b?.required)) names.push(...(b.required as string[]));
  return names;
}

/** Optimal string alignment distance (Levenshtein with transpositions). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known field a typo most likely meant (case-insensitive distance ≤ 2, at most a third of its length). */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(typed.toLowerCase(), k.toLowerCase());
    if (dist < bestDistance && dist <= Math.min(2, Math.max(1, Math.floor(k.length / 3)))) {
      best = k;
      bestDistance = dist;
    }
  }
  return best;
}

export function formatAjvErrors(errors: readonly ErrorObject[]): ValidationIssue[] {
  // A failed oneOf/anyOf explains itself: drop the errors of its branches.
  const parents = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const out: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (parents.some((p) => e.schemaPath.startsWith(p))) continue;
    const path = fieldPath(e.instancePath, e.schemaPath);
    const at = path || '<root>';
    const p = e.params as Record<string, unknown>;
    let issue: ValidationIssue;
    switch (e.keyword) {
      case 'required':
        issue = { path: path ? `${path}.${String(p.missingProperty)}` : String(p.missingProperty), message: 'Required value' };
        break;
      case 'additionalProperties': {
        const field = String(p.additionalProperty);
        const known = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
        const guess = closestName(field, known);
        issue = { path: path ? `${path}.${field}` : field, message: `unknown field "${field}"${guess ? `, did you mean "${guess}"?` : ''}` };
        break;
      }
      case 'enum':
        issue = { path, message: `Unsupported value: ${show(e.data)}: supported values: ${(p.allowedValues as unknown[]).map(show).join(', ')}` };
        break;
      case 'type':
        issue = { path, message: `Invalid value: "${typeName(e.data)}": ${at} in body must be of type ${String(p.type)}: "${typeName(e.data)}"` };
        break;
      case 'minLength':
        issue = { path, message: `Invalid value: ${show(e.data)}: ${at} in body should be at least ${String(p.limit)} chars long` };
        break;
      case 'maxLength':
        issue = { path, message: `Too long: may not be more than ${String(p.limit)} bytes` };
        break;
      case 'pattern':
        issue = { path, message: `Invalid value: ${show(e.data)}: ${at} in body should match '${String(p.pattern)}'` };
        break;
      case 'minimum':
      case 'exclusiveMinimum':
        issue = { path, message: `Invalid value: ${show(e.data)}: ${at} in body should be greater than ${e.keyword === 'minimum' ? 'or equal to ' : ''}${String(p.limit)}` };
        break;
      case 'maximum':
      case 'exclusiveMaximum':
        issue = { path, message: `Invalid value: ${show(e.data)}: ${at} in body should be less than ${e.keyword === 'maximum' ? 'or equal to ' : ''}${String(p.limit)}` };
        break;
      case 'minItems':
        issue = { path, message: `Invalid value: ${String((e.data as unknown[]).length)}: ${at} in body should have at least ${String(p.limit)} items` };
        break;
      case 'maxItems':
        issue = { path, message: `Too many: ${String((e.data as unknown[]).length)}: must have at most ${String(p.limit)} items` };
        break;
      case 'minProperties':
        issue = { path, message: `${at} in body should have at least ${String(p.limit)} properties` };
        break;
      case 'maxProperties':
        issue = { path, message: `${at} in body should have at most ${String(p.limit)} properties` };
        break;
      case 'format':
        issue = { path, message: `Invalid value: ${show(e.data)}: ${at} in body must be of type ${String(p.format)}` };
        break;
      case 'oneOf': {
        const names = oneOfNames(e.schema);
        const set = names.filter((n) => typeof e.data === 'object' && e.data !== null && n in (e.data as object));
        issue = names.length > 0 && set.length > 1
          ? { path, message: `Invalid value: "object": only one of ${names.join(', ')} may be set (got ${set.join(', ')})` }
          : { path, message: `Invalid value: ${show(e.data)}: must validate one and only one schema (oneOf)` };
        break;
      }
      case 'anyOf':
        issue = { path, message: `Invalid value: ${show(e.data)}: ${at} in body must be of type integer or string` };
        break;
      default:
        issue = { path, message: e.message ?? `failed ${e.keyword}` };
    }
    const key = `${issue.path}\0${issue.message}`;
    if (!seen.has(key)) out.push(issue);
    seen.add(key);
  }
  return out;
}
