import { createHash } from 'node:crypto';
import type { ConfigResource } from '../api/config-resource.ts';

/**
 * A bare Pod manifest (no owning Deployment): it runs under exactly its manifest's name. Its
 * "template hash" covers what the pod is made from (annotations, spec); when it changes the pod
 * is recreated (Kubernetes refuses most Pod spec updates: mizzen recreates instead). Labels are
 * not in it: Kubernetes updates a Pod's labels in place, and so does mizzen (MeshRuntime).
 */
export function barePodHash(r: ConfigResource): string {
  const what = { annotations: r.metadata.annotations ?? {}, spec: r.spec ?? {} };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

export function barePodKey(r: ConfigResource): string {
  return `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
}

export function isBarePod(r: ConfigResource): boolean {
  return r.kind === 'Pod' && r.group === '';
}

