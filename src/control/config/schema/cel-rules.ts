import type { ValidationIssue } from '../validation/validation-issue.ts';
import { CelEvalError, CelUnsupportedError, evaluateCel } from '../../../lib/cel/cel-evaluator.ts';
import { CelSyntaxError, parseCel, type CelNode } from '../../../lib/cel/cel-parser.ts';

/**
 * The Kubernetes-only parts of a structural schema that JSON Schema cannot express, checked by
 * walking the object alongside its schema: `x-kubernetes-validations` (CEL rules) and
 * `x-kubernetes-list-type: set|map` uniqueness.
 */
type Schema = Record<string, unknown>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeMatches(schema: Schema, value: unknown): boolean {
  if (schema['x-kubernetes-int-or-string'] === true) return typeof value === 'number' || typeof value === 'string';
  switch (schema.type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return true;
  }
}

function childPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Parsed rules are cached per rule text: a CRD repeats the same rule hundreds of times. */
export class CelRuleChecker {
  readonly #compiled = new Map<string, CelNode | Error>();

  #compile(rule: string): CelNode | Error {
    let c = this.#compiled.get(rule);
    if (!c) {
      try {
        c = parseCel(rule);
      } catch (e) {
        c = e instanceof CelSyntaxError ? e : new Error(String(e));
      }
      this.#compiled.set(rule, c);
    }
    return c;
  }

  check(schema: Schema, value: unknown, path: string, out: ValidationIssue[]): void {
    if (value === undefined || value === null || !isObject(schema)) return;
    // Kubernetes evaluates rules only on values of the declared type (ajv reports the mismatch).
    if (!typeMatches(schema, value)) return;
    const rules = schema['x-kubernetes-validations'];
    if (Array.isArray(rules)) {
      for (const r of rules as { rule?: string; message?: string }[]) {
        if (typeof r.rule !== 'string') continue;
        // Transition rules compare with the stored object; a validation without one skips them, as the API server does on create.
        if (/\boldSelf\b/.test(r.rule)) continue;
        const node = this.#compile(r.rule);
        if (node instanceof Error) continue; // a rule we cannot parse is not the user's fault
        let ok: boolean;
        try {
          ok = evaluateCel(node, value) === true;
        } catch (e) {
          if (e instanceof CelUnsupportedError) continue; // a rule we cannot evaluate is not the user's fault
          if (!(e instanceof CelEvalError)) throw e;
          ok = false;
        }
        if (!ok) out.push({ path, message: r.message ?? `failed rule: ${r.rule}` });
      }
    }
    if (Array.isArray(value)) {
      this.#checkListType(schema, value, path, out);
      const items = schema.items;
      if (isObject(items)) value.forEach((v, i) => this.check(items, v, `${path}[${i}]`, out));
      return;
    }
    if (!isObject(value)) return;
    const props = schema.properties;
    if (isObject(props)) {
      for (const [k, sub] of Object.entries(props)) if (k in value) this.check(sub as Schema, value[k], childPath(path, k), out);
    }
    const extra = schema.additionalProperties;
    if (isObject(extra)) {
      for (const [k, v] of Object.entries(value)) if (!isObject(props) || !(k in props)) this.check(extra, v, `${path}[${k}]`, out);
    }
  }

  #checkListType(schema: Schema, list: unknown[], path: string, out: ValidationIssue[]): void {
    const type = schema['x-kubernetes-list-type'];
    if (type === 'set') {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        const key = JSON.stringify(v);
        if (seen.has(key)) out.push({ path: `${path}[${i}]`, message: `Duplicate value: ${key}` });
        seen.add(key);
      });
    } else if (type === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'];
      if (!Array.isArray(keys)) return;
      const seen = new Set<string>();
      list.forEach((v, i) => {
        if (!isObject(v)) return;
        const key = JSON.stringify(keys.map((k: string) => v[k] ?? null));
        if (seen.has(key)) {
          const shown = Object.fromEntries(keys.map((k: string) => [k, v[k]]));
          out.push({ path: `${path}[${i}]`, message: `Duplicate value: ${JSON.stringify(shown)}` });
        }
        seen.add(key);
      });
    }
  }
}
