import type { EnvVar } from '../api/kube/pod.ts';

/** What a container's `valueFrom.fieldRef` may name in a local mesh pod. */
export interface PodFieldValues {
  name: string;
  namespace: string;
  ip: string;
  serviceAccount: string;
}

/** Kubernetes `$(VAR)` expansion in env values. */
function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
}

/**
 * A container's environment as the kubelet makes it: `base`, then each `env` entry in order (a
 * later one wins), `value` with `$(VAR)` expanded from what is set so far, `valueFrom.fieldRef`
 * from the pod's name, namespace, IP, service account and node.
 */
export function containerEnv(entries: readonly EnvVar[] | undefined, base: Readonly<Record<string, string>>, pod: PodFieldValues): Record<string, string> {
  const env: Record<string, string> = { ...base };
  const fields: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'status.podIP': pod.ip,
    'spec.serviceAccountName': pod.serviceAccount,
    'spec.nodeName': 'mizzen-node',
  };
  for (const e of entries ?? []) {
    if (e.value !== undefined) env[e.name] = expandVars(String(e.value), env);
    else {
      const ref = (e.valueFrom as { fieldRef?: { fieldPath?: string } } | undefined)?.fieldRef?.fieldPath;
      if (ref && fields[ref] !== undefined) env[e.name] = fields[ref];
    }
  }
  return env;
}
