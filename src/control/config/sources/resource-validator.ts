import { resourceRef, type ConfigResource } from '../../../api/config-resource.ts';
import { lookupKind } from '../../../api/kinds.ts';
import type { ConfigError } from './config-error.ts';

export interface ValidationIssue {
  path: string;
  message: string;
}

export interface ValidationOutcome {
  errors: readonly ValidationIssue[];
  warnings: readonly ValidationIssue[];
}

/**
 * Validates one resource (schema + semantics). Sources take it by injection; the product wires
 * `validateResource` from control/config/validation/. It must not throw on user input.
 */
export type ResourceValidator = (r: ConfigResource) => ValidationOutcome;

/** A validator that accepts everything (tests, or a source whose input was validated already). */
export const acceptAll: ResourceValidator = () => ({ errors: [], warnings: [] });

export type Verdict =
  | { accept: true; warnings: ConfigError[] }
  | { accept: false; errors: ConfigError[]; warnings: ConfigError[] };

/**
 * Decide whether a source may serve a resource: kinds Mizzen does not know are reported and
 * never stored; known kinds must have no validation errors. A validator that throws is an
 * internal bug, reported as an error on the resource rather than crashing the source.
 */
export function judgeResource(r: ConfigResource, validate: ResourceValidator): Verdict {
  const at = { file: r.origin?.file, line: r.origin?.line, resource: resourceRef(r) };
  const kind = lookupKind(r.group, r.version, r.kind);
  if (!kind.known) {
    const message =
      kind.reason === 'unknown-kind'
        ? `unknown kind ${r.apiVersion} ${r.kind}: ignored`
        : `${r.apiVersion} is not a served version of ${r.kind} (served: ${(kind.served ?? []).join(', ')}): ignored`;
    return { accept: false, errors: [], warnings: [{ ...at, message, level: 'warning' }] };
  }
  let outcome: ValidationOutcome;
  try {
    outcome = validate(r);
  } catch (err) {
    return { accept: false, errors: [{ ...at, message: `validator failed: ${(err as Error).message}`, level: 'error' }], warnings: [] };
  }
  const warnings = outcome.warnings.map((w): ConfigError => ({ ...at, path: w.path, message: w.message, level: 'warning' }));
  if (outcome.errors.length === 0) return { accept: true, warnings };
  const errors = outcome.errors.map((e): ConfigError => ({ ...at, path: e.path, message: e.message, level: 'error' }));
  return { accept: false, errors, warnings };
}
