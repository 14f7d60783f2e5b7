import type { IssueList } from './issue-list.ts';
import { at } from './issue-list.ts';

/** Label maps (keys and values as Kubernetes/Istio accept them) and workload selectors. */
const QUALIFIED_NAME = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

export function validateLabelKey(k: string): string | undefined {
  const parts = k.split('/');
  if (parts.length > 2) return `invalid tag key: "${k}"`;
  const name = parts[parts.length - 1];
  if (parts.length === 2 && (parts[0].length > 253 || !DNS_SUBDOMAIN.test(parts[0]))) return `invalid tag key: "${k}"`;
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) return `invalid tag key: "${k}"`;
  return undefined;
}

export function validateLabelValue(v: string): string | undefined {
  if (v === '') return undefined;
  if (typeof v !== 'string' || v.length > 63 || !QUALIFIED_NAME.test(v)) return `invalid tag value: "${String(v)}"`;
  return undefined;
}

export function validateLabels(labels: Record<string, string> | undefined, path: string, out: IssueList): void {
  if (!labels) return;
  for (const [k, v] of Object.entries(labels)) {
    out.check(at(path, k), validateLabelKey(k));
    out.check(at(path, k), validateLabelValue(v));
  }
}

/**
 * `selector.matchLabels` (security/telemetry kinds, DestinationRule): no empty keys, no
 * wildcards; a selector without labels is a warning.
 */
export function validateWorkloadSelector(selector: object | undefined, path: string, out: IssueList, labelsField = 'matchLabels', warning = 'workload selector specified without labels'): void {
  if (!selector) return;
  const labels = (selector as Record<string, unknown>)[labelsField] as Record<string, string> | undefined;
  for (const [k, v] of Object.entries(labels ?? {})) {
    const p = `${path}.${labelsField}[${k}]`;
    if (k === '') out.error(p, `empty key is not supported in selector: "${k}=${v}"`);
    if (k.includes('*') || String(v).includes('*')) out.error(p, `wildcard is not supported in selector: "${k}=${v}"`);
  }
  if (Object.keys(labels ?? {}).length === 0) out.warn(path, warning);
}
