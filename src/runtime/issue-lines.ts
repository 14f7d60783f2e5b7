import { lineOfField, resourceRef, type ConfigResource } from '../api/config-resource.ts';

/** A finding about one field of a resource (validation error or warning). */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Findings about resources as the lines `apply` prints, `FILE:LINE: Kind ns/name: field.path:
 * message`, LINE being the field's own line in the file (the document's when the field has none).
 */
export function issueLines(resources: readonly ConfigResource[], find: ((r: ConfigResource) => FieldIssue[]) | undefined): string[] {
  const out: string[] = [];
  for (const r of resources) {
    for (const issue of find?.(r) ?? []) {
      const where = r.origin ? `${r.origin.file}:${lineOfField(r.origin, issue.path)}: ` : '';
      out.push(`${where}${resourceRef(r)}: ${issue.path}: ${issue.message}`);
    }
  }
  return out;
}
