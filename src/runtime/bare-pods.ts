import { createHash } from 'node:crypto';
import type { ConfigResource } from '../api/config-resource.ts';

/**
 * A bare Pod manifest (no owning Deployment): it runs under exactly its manifest's name. Its
 * "template hash" covers what the pod is made from (labels, annotations, spec); when it changes
 * the pod is recreated (Kubernetes refuses most Pod spec updates: mizzen recreates instead).
 */
export function barePodHash(r: ConfigResource): string {
  const what = { labels: r.metadata.labels ?? {}, annotations: r.metadata.annotations ?? {}, spec: r.spec ?? {} };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

export function barePodKey(r: ConfigResource): string {
  return `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
}

export function isBarePod(r: ConfigResource): boolean {
  return r.kind === 'Pod' && r.group === '';
}

