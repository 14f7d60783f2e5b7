import type { ConfigResource } from '../api/config-resource.ts';
import type { DeploymentSpec } from '../api/kube/deployment.ts';
import type { PodSpec } from '../api/kube/pod.ts';
import { barePodHash } from './bare-pods.ts';
import { podNameFor } from './deployment-pods.ts';

/** What one pod is created from: a Deployment's template or a bare Pod manifest. */
export interface PodPlan {
  name: string;
  namespace: string;
  /** `namespace/name` of the owning Deployment; undefined for a bare Pod. */
  owner: string | undefined;
  /** WORKLOAD_NAME for the sidecar: the Deployment, or the bare Pod's own name. */
  workload: string;
  hash: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PodSpec;
  /** The manifest file (relative commands start in its directory). */
  origin: string | undefined;
}

/** A new pod of a Deployment (a ReplicaSet's name: `DEPLOY-HASH-xxxxx`, `pod-template-hash` label). */
export function deploymentPodPlan(d: ConfigResource, hash: string): PodPlan {
  const spec = d.spec as DeploymentSpec;
  const ns = d.metadata.namespace ?? 'default';
  return {
    name: podNameFor(d.metadata.name, hash),
    namespace: ns,
    owner: `${ns}/${d.metadata.name}`,
    workload: d.metadata.name,
    hash,
    labels: { ...(spec.template?.metadata?.labels ?? {}), 'pod-template-hash': hash },
    annotations: { ...(spec.template?.metadata?.annotations ?? {}) },
    spec: spec.template?.spec ?? {},
    origin: d.origin?.file,
  };
}

/** A bare Pod, named exactly as its manifest says. */
export function barePodPlan(r: ConfigResource): PodPlan {
  return {
    name: r.metadata.name,
    namespace: r.metadata.namespace ?? 'default',
    owner: undefined,
    workload: r.metadata.name,
    hash: barePodHash(r),
    labels: { ...((r.metadata.labels as Record<string, string> | undefined) ?? {}) },
    annotations: { ...((r.metadata.annotations as Record<string, string> | undefined) ?? {}) },
    spec: (r.spec as PodSpec | undefined) ?? {},
    origin: r.origin?.file,
  };
}
