import { createHash, randomInt } from 'node:crypto';
import type { ConfigResource } from '../api/config-resource.ts';
import type { DeploymentSpec } from '../api/kube/deployment.ts';

/** Kubernetes' alphabet for generated name suffixes (no vowels, no confusable characters). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function randomSuffix(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/** pod-template-hash: a stable short hash of the pod template, in Kubernetes' alphabet. */
export function podTemplateHash(spec: DeploymentSpec): string {
  const digest = createHash('sha256').update(JSON.stringify(spec.template ?? {})).digest();
  let s = '';
  for (let i = 0; i < 10; i++) s += ALPHABET[digest[i] % ALPHABET.length];
  return s;
}

/** A pod name as a ReplicaSet would make it: `DEPLOY-HASH-xxxxx`. */
export function podNameFor(deployment: string, hash: string): string {
  return `${deployment}-${hash}-${randomSuffix(5)}`;
}

export function deploymentReplicas(d: ConfigResource): number {
  const r = (d.spec as DeploymentSpec).replicas;
  return typeof r === 'number' && r >= 0 ? r : 1;
}
