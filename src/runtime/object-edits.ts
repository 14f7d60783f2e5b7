import type { ConfigResource } from '../api/config-resource.ts';
import { KINDS } from '../api/kinds.ts';

/** An object named by kind, group, namespace and name (delete/label by name). */
export type ObjectRef = Pick<ConfigResource, 'kind' | 'group' | 'metadata'>;

/** kubectl's `KIND.GROUP/NAME` for change lines: `deployment.apps/reviews-v1`. */
export const kindLabel = (r: ObjectRef): string => `${r.kind.toLowerCase()}${r.group ? `.${r.group}` : ''}/${r.metadata.name}`;

/** kubectl's resource name in errors: `virtualservices.networking.istio.io`, `pods`. */
export function plural(r: Pick<ConfigResource, 'kind' | 'group'>): string {
  const k = KINDS.find((x) => x.kind === r.kind && x.group === r.group);
  const p = k?.plural ?? `${r.kind.toLowerCase()}s`;
  return r.group ? `${p}.${r.group}` : p;
}

/** kubectl ≥ 1.34's delete line: `deployment.apps "x" deleted from default namespace`. */
export function deletedLine(r: ObjectRef): string {
  const from = r.metadata.namespace && r.kind !== 'Namespace' ? ` from ${r.metadata.namespace} namespace` : '';
  return `${r.kind.toLowerCase()}${r.group ? `.${r.group}` : ''} "${r.metadata.name}" deleted${from}`;
}

/**
 * `kubectl label`: the object with labels set (value) or removed (null), or kubectl's error
 * when a label would change without `--overwrite`.
 */
export function relabel(r: ConfigResource, labels: Readonly<Record<string, string | null>>, overwrite: boolean): { resource: ConfigResource } | { error: string } {
  const current = { ...((r.metadata.labels as Record<string, string> | undefined) ?? {}) };
  for (const [k, v] of Object.entries(labels)) {
    if (v !== null && current[k] !== undefined && current[k] !== v && !overwrite) return { error: `'${k}' already has a value (${current[k]}), and --overwrite is false` };
  }
  for (const [k, v] of Object.entries(labels)) {
    if (v === null) delete current[k];
    else current[k] = v;
  }
  const raw = { ...r.raw, metadata: { ...((r.raw.metadata as Record<string, unknown>) ?? {}), labels: current } };
  return { resource: { ...r, metadata: { ...r.metadata, labels: current }, raw } };
}

/** `kubectl rollout restart`: the Deployment with its pod template stamped `kubectl.kubernetes.io/restartedAt`. */
export function withRestartStamp(d: ConfigResource, at: string): ConfigResource {
  const raw = structuredClone(d.raw) as { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } };
  raw.spec ??= {};
  raw.spec.template ??= {};
  raw.spec.template.metadata ??= {};
  raw.spec.template.metadata.annotations = { ...raw.spec.template.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': at };
  return { ...d, spec: raw.spec as Record<string, unknown>, raw: raw as Record<string, unknown> };
}
