import { isDNS1123Label } from './hosts.ts';
import type { IssueList } from './issue-list.ts';

/** `exportTo`: `.`, `*`, `~` (ServiceEntry only) or namespace names; no duplicates, no mixing `*`/`~` with others. */
export function validateExportTo(namespace: string, exportTo: string[] | undefined, isServiceEntry: boolean, isDrWithSelector: boolean, path: string, out: IssueList): void {
  if (!exportTo || exportTo.length === 0) return;
  const set = new Set<string>();
  for (const e of exportTo) {
    const key = e === '.' ? namespace : e;
    if (set.has(key)) {
      out.error(path, key !== e ? `duplicate entries in exportTo: . and current namespace ${namespace}` : `duplicate entries in exportTo for entry ${e}`);
      continue;
    }
    if (isServiceEntry && e === '~') {
      set.add(key);
      continue;
    }
    if (key === '*' || key === '~' || isDNS1123Label(key)) {
      if (key === '~') {
        out.error(path, `exportTo ~ (no one) is only allowed for ServiceEntry`);
        continue;
      }
      set.add(key);
    } else out.error(path, `only . or * or ~ or a valid DNS 1123 label is allowed as exportTo entry, found "${key}"`);
  }
  if (isDrWithSelector && set.size > 0) {
    if (set.has(namespace)) {
      if (set.size > 1) out.error(path, 'destination rule with workload selector cannot have multiple entries in exportTo');
    } else out.error(path, 'destination rule with workload selector cannot have exportTo beyond current namespace');
  }
  if (set.has('*') && exportTo.length > 1) out.error(path, 'cannot have both public (*) and non-public exportTo values for a resource');
  if (set.has('~') && exportTo.length > 1) out.error(path, 'cannot export service entry to no one (~) and someone');
}
