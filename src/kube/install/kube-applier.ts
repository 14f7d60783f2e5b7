import { KubeApiError, type KubeApi } from '../../lib/kube/kube-api.ts';

type Obj = Record<string, any>;

/** Plural and scope of the kinds Mizzen writes (install/uninstall, `mizzen up --kube`). */
const RESOURCES: Readonly<Record<string, { plural: string; namespaced: boolean }>> = {
  CustomResourceDefinition: { plural: 'customresourcedefinitions', namespaced: false },
  Namespace: { plural: 'namespaces', namespaced: false },
  ServiceAccount: { plural: 'serviceaccounts', namespaced: true },
  ClusterRole: { plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { plural: 'clusterrolebindings', namespaced: false },
  Role: { plural: 'roles', namespaced: true },
  RoleBinding: { plural: 'rolebindings', namespaced: true },
  ConfigMap: { plural: 'configmaps', namespaced: true },
  Secret: { plural: 'secrets', namespaced: true },
  Deployment: { plural: 'deployments', namespaced: true },
  Service: { plural: 'services', namespaced: true },
  Pod: { plural: 'pods', namespaced: true },
  MutatingWebhookConfiguration: { plural: 'mutatingwebhookconfigurations', namespaced: false },
  ValidatingWebhookConfiguration: { plural: 'validatingwebhookconfigurations', namespaced: false },
};

/** The REST path of one object (`/api/v1/namespaces/ns/services/name`). */
export function objectPath(o: Obj): string {
  const r = RESOURCES[String(o.kind)];
  if (!r) throw new Error(`mizzen does not write ${o.kind} objects`);
  const api = String(o.apiVersion).includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = r.namespaced ? `/namespaces/${o.metadata.namespace ?? 'default'}` : '';
  return `${api}${ns}/${r.plural}/${o.metadata.name}`;
}

/** Server-side apply (field manager `mizzen`, conflicts forced as `kubectl apply --server-side --force-conflicts`). */
export async function applyObject(api: KubeApi, o: Obj): Promise<void> {
  await api.request('PATCH', objectPath(o), { query: { fieldManager: 'mizzen', force: true }, body: o, contentType: 'application/apply-patch+yaml' });
}

/** Delete; absent is fine. Returns whether something was deleted. */
export async function deleteObject(api: KubeApi, o: Obj): Promise<boolean> {
  try {
    await api.request('DELETE', objectPath(o), { query: { propagationPolicy: 'Background' } });
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    throw err;
  }
}
