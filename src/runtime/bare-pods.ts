import { createHash } from 'node:crypto';
import type { ConfigResource } from '../api/config-resource.ts';
import type { PodSpec } from '../api/kube/pod.ts';

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

/** The parts of a Pod manifest a pod is created from. */
export function barePodTemplate(r: ConfigResource): { labels: Record<string, string>; annotations: Record<string, string>; spec: PodSpec } {
  return {
    labels: { ...((r.metadata.labels as Record<string, string> | undefined) ?? {}) },
    annotations: { ...((r.metadata.annotations as Record<string, string> | undefined) ?? {}) },
    spec: (r.spec as PodSpec | undefined) ?? {},
  };
}
