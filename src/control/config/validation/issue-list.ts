import type { ValidationIssue, ValidationResult } from './validation-issue.ts';

/** Collects errors and warnings while a validator walks a resource. */
export class IssueList implements ValidationResult {
  readonly errors: ValidationIssue[] = [];
  readonly warnings: ValidationIssue[] = [];

  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }

  /** Record a check's result: a string is an error message, undefined means fine. */
  check(path: string, message: string | undefined): void {
    if (message !== undefined) this.error(path, message);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `spec.http` + 0 → `spec.http[0]`; `spec` + 'hosts' → `spec.hosts`. */
export function at(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}
