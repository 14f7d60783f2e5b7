import { resourceKey, resourceRef, type ConfigResource } from '../../../api/config-resource.ts';
import { parseDocuments } from '../parse-documents.ts';
import type { ConfigError } from './config-error.ts';
import { judgeResource, type ResourceValidator } from './resource-validator.ts';

/** What one config file currently contributes: the resources served from it and its problems. */
export interface FileState {
  file: string;
  /** Stat signature the state was computed from (inode, size, mtime, ctime). */
  signature: string;
  text: string;
  /** Resources served from this file, by store key (last valid versions included). */
  served: ReadonlyMap<string, ConfigResource>;
  errors: readonly ConfigError[];
  warnings: readonly ConfigError[];
}

/**
 * Work out what a file serves after it changed, given what it served before:
 * - a file that does not parse keeps every resource it served before (errors name file and line);
 * - a valid resource is served in its new version;
 * - an invalid resource keeps its last valid version from this file, if any, and is reported;
 * - a resource no longer in the file stops being served;
 * - kinds Mizzen does not know are reported as warnings and not served.
 */
export function evaluateFile(
  file: string,
  text: string,
  signature: string,
  previous: FileState | undefined,
  validate: ResourceValidator,
): FileState {
  const parsed = parseDocuments(text, file);
  if (parsed.problems.length > 0) {
    const kept = previous?.served ?? new Map<string, ConfigResource>();
    const suffix = kept.size > 0 ? ` (file not applied; its ${kept.size} previous resource(s) keep serving)` : ' (file not applied)';
    const errors = parsed.problems.map((p): ConfigError => ({ file: p.file, line: p.line, message: p.message + suffix, level: 'error' }));
    return { file, signature, text, served: kept, errors, warnings: [] };
  }
  const served = new Map<string, ConfigResource>();
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  for (const r of parsed.resources) {
    const key = resourceKey(r);
    if (served.has(key)) {
      warnings.push({ file, line: r.origin?.line, resource: resourceRef(r), message: 'defined more than once in this file; the last definition is used', level: 'warning' });
    }
    const verdict = judgeResource(r, validate);
    warnings.push(...verdict.warnings);
    if (verdict.accept) {
      served.set(key, r);
      continue;
    }
    if (verdict.errors.length === 0) continue; // unknown kind: warned, not served
    const last = previous?.served.get(key);
    const note = last ? ' (last valid version keeps serving)' : ' (not applied)';
    errors.push(...verdict.errors.map((e) => ({ ...e, message: e.message + note })));
    if (last) served.set(key, last);
  }
  return { file, signature, text, served, errors, warnings };
}
