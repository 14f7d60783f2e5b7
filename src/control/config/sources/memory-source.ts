import { resourceKey, type ConfigResource } from '../../../api/config-resource.ts';
import { silentLogger, type Logger } from '../../../lib/log.ts';
import type { ConfigChange } from '../config-store-reader.ts';
import type { ConfigStore } from '../config-store.ts';
import { parseDocuments } from '../parse-documents.ts';
import type { ConfigError } from './config-error.ts';
import { judgeResource, type ResourceValidator } from './resource-validator.ts';

export interface MemorySourceOptions {
  store: ConfigStore;
  validate: ResourceValidator;
  /** Source id inside the store; default `memory`. */
  sourceId?: string;
  log?: Logger;
}

export interface ApplyResult {
  /** true when the input was valid and applied (possibly changing nothing). */
  ok: boolean;
  changes: ConfigChange[];
  errors: ConfigError[];
  warnings: ConfigError[];
}

export interface DeleteResult {
  changes: ConfigChange[];
  /** `Kind namespace/name` of resources this source did not hold. */
  notFound: string[];
}

/**
 * Programmatic config (`mizzen apply`, tests). A batch is validated as a whole: if any resource
 * is invalid, nothing changes and the errors come back, so the last valid version of every
 * resource keeps serving. Kinds Mizzen does not know are skipped with a warning.
 */
export class MemorySource {
  private readonly store: ConfigStore;
  private readonly validate: ResourceValidator;
  private readonly log: Logger;
  readonly sourceId: string;

  constructor(options: MemorySourceOptions) {
    this.store = options.store;
    this.validate = options.validate;
    this.sourceId = options.sourceId ?? 'memory';
    this.log = options.log ?? silentLogger();
  }

  apply(resources: readonly ConfigResource[]): ApplyResult {
    const { accepted, errors, warnings } = this.validateAll(resources);
    if (errors.length > 0) return { ok: false, changes: [], errors, warnings };
    return { ok: true, changes: this.store.apply(this.sourceId, accepted), errors, warnings };
  }

  /** Parse YAML/JSON text (multi-document) and apply it; a syntax error changes nothing. */
  applyText(text: string, file = '<input>'): ApplyResult {
    const parsed = parseDocuments(text, file);
    if (parsed.problems.length > 0) {
      const errors = parsed.problems.map((p): ConfigError => ({ file: p.file, line: p.line, message: p.message, level: 'error' }));
      return { ok: false, changes: [], errors, warnings: [] };
    }
    return this.apply(parsed.resources);
  }

  /** Delete resources this source holds (by group/kind/namespace/name). */
  delete(refs: readonly Pick<ConfigResource, 'group' | 'kind' | 'metadata'>[]): DeleteResult {
    const held = new Set(this.store.sourceKeys(this.sourceId));
    const notFound: string[] = [];
    const present: Pick<ConfigResource, 'group' | 'kind' | 'metadata'>[] = [];
    for (const r of refs) {
      const ns = r.metadata.namespace;
      const candidates = [resourceKey(r), resourceKey({ ...r, metadata: { ...r.metadata, namespace: ns ?? 'default' } })];
      if (candidates.some((k) => held.has(k))) present.push(r);
      else notFound.push(ns ? `${r.kind} ${ns}/${r.metadata.name}` : `${r.kind} ${r.metadata.name}`);
    }
    return { changes: this.store.delete(this.sourceId, present), notFound };
  }

  /** Replace everything this source holds with `resources` (validated as one batch). */
  replaceAll(resources: readonly ConfigResource[]): ApplyResult {
    const check = this.validateAll(resources);
    if (check.errors.length > 0) return { ok: false, changes: [], errors: check.errors, warnings: check.warnings };
    return { ok: true, changes: this.store.replaceSource(this.sourceId, check.accepted), errors: [], warnings: check.warnings };
  }

  private validateAll(resources: readonly ConfigResource[]): { accepted: ConfigResource[]; errors: ConfigError[]; warnings: ConfigError[] } {
    const accepted: ConfigResource[] = [];
    const errors: ConfigError[] = [];
    const warnings: ConfigError[] = [];
    for (const r of resources) {
      const verdict = judgeResource(r, this.validate);
      warnings.push(...verdict.warnings);
      if (verdict.accept) accepted.push(r);
      else errors.push(...verdict.errors);
    }
    for (const e of errors) this.log.warn({ resource: e.resource, path: e.path }, `rejected config: ${e.message}`);
    return { accepted, errors, warnings };
  }
}
