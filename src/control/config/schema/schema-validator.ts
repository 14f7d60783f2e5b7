import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { ValidationIssue } from '../validation/validation-issue.ts';
import { formatAjvErrors } from './ajv-error-format.ts';
import { CelRuleChecker } from './cel-rules.ts';
import { CrdSchemaCatalog } from './crd-schema-catalog.ts';
import { applySchemaOverlays } from './schema-overlay.ts';
import { withDefaults } from './structural-defaults.ts';
import { toJsonSchema } from './structural-schema.ts';

export type SchemaCheck =
  | { status: 'checked'; errors: ValidationIssue[] }
  | { status: 'no-schema' }
  | { status: 'unserved'; served: string[] };

interface Compiled {
  validate: ValidateFunction;
  structural: Record<string, unknown>;
}

/**
 * Layer one of validation: the resource against its CRD's OpenAPI v3 schema (ajv), then the CEL
 * rules and list-type constraints of that schema. Schemas are compiled on first use per
 * kind+version and cached in this object.
 */
export class SchemaValidator {
  readonly #catalog: CrdSchemaCatalog;
  readonly #ajv: Ajv;
  readonly #cel = new CelRuleChecker();
  readonly #compiled = new Map<string, Compiled | undefined>();

  constructor(catalog: CrdSchemaCatalog = new CrdSchemaCatalog()) {
    this.#catalog = catalog;
    this.#ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true, verbose: true, logger: false });
    (addFormats as unknown as (a: Ajv) => void)(this.#ajv);
  }

  has(group: string, kind: string): boolean {
    return this.#catalog.has(group, kind);
  }

  #compile(group: string, kind: string, version: string): Compiled | undefined {
    const key = `${group}/${version}/${kind}`;
    if (!this.#compiled.has(key)) {
      const s = this.#catalog.schemaFor(group, kind, version);
      let c: Compiled | undefined;
      if (s) {
        const structural = applySchemaOverlays(group, kind, s.schema);
        const root = toJsonSchema(structural);
        // Kubernetes prunes unknown top-level fields (status, test annotations such as `_err`).
        delete root.additionalProperties;
        c = { validate: this.#ajv.compile(root), structural };
      }
      this.#compiled.set(key, c);
    }
    return this.#compiled.get(key);
  }

  /** Check a whole object (`apiVersion`, `kind`, `metadata`, `spec`, ...) as parsed. */
  check(group: string, kind: string, version: string, object: Record<string, unknown>): SchemaCheck {
    if (!this.#catalog.has(group, kind)) return { status: 'no-schema' };
    const versions = this.#catalog.versions(group, kind);
    const v = versions.find((x) => x.name === version);
    if (!v || !v.served) return { status: 'unserved', served: versions.filter((x) => x.served).map((x) => x.name) };
    const c = this.#compile(group, kind, version);
    if (!c) return { status: 'no-schema' };
    const errors: ValidationIssue[] = [];
    // the API server applies the schema's defaults before it validates (schema and CEL rules)
    const defaulted = withDefaults(c.structural, object) as Record<string, unknown>;
    if (!c.validate(defaulted)) errors.push(...formatAjvErrors(c.validate.errors ?? []));
    this.#cel.check(c.structural, defaulted, '', errors);
    return { status: 'checked', errors };
  }
}
