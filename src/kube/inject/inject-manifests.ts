import { parseAllDocuments, stringify } from 'yaml';
import { injectRequired, type PodLike } from './injection-policy.ts';
import type { InjectionSettings } from './injection-settings.ts';
import { injectPod } from './sidecar-injector.ts';

type Obj = Record<string, any>;

/** Kinds whose pod template lives at `spec.template` (CronJob: `spec.jobTemplate.spec.template`). */
const TEMPLATE_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicationController', 'DeploymentConfig']);

/** Inject one object (Pod or workload with a pod template); other kinds come back unchanged. */
export function injectObject(obj: Obj, settings: InjectionSettings): Obj {
  const namespace = String(obj.metadata?.namespace ?? 'default');
  const owner = obj.kind === 'Pod' ? undefined : { kind: String(obj.kind), name: String(obj.metadata?.name ?? '') };
  const inject = (pod: PodLike): Obj => (injectRequired(pod, namespace).inject ? injectPod(pod, namespace, settings, owner) : (pod as Obj));
  if (obj.kind === 'Pod') return inject(obj);
  if (obj.kind === 'List' && Array.isArray(obj.items)) return { ...obj, items: obj.items.map((i: Obj) => injectObject(i, settings)) };
  if ((TEMPLATE_KINDS.has(obj.kind) || (obj.kind === 'CronJob' && !obj.spec?.jobTemplate)) && obj.spec?.template) {
    const template = inject({ ...obj.spec.template, metadata: { ...(obj.spec.template.metadata ?? {}), namespace } });
    const { namespace: _ns, ...templateMeta } = template.metadata ?? {};
    return { ...obj, spec: { ...obj.spec, template: { ...template, metadata: templateMeta } } };
  }
  if (obj.kind === 'CronJob' && obj.spec?.jobTemplate?.spec?.template) {
    const job = injectObject({ kind: 'CronJob', metadata: { namespace, name: obj.metadata?.name }, spec: obj.spec.jobTemplate.spec }, settings);
    return { ...obj, spec: { ...obj.spec, jobTemplate: { ...obj.spec.jobTemplate, spec: job.spec } } };
  }
  return obj;
}

/**
 * `mizzen kube-inject -f FILE`: every document of a YAML stream, pods and pod templates injected
 * as the webhook would inject them (namespace labels are not consulted: istioctl kube-inject
 * injects unless the pod opts out). Errors name the document.
 */
export function injectManifests(text: string, settings: InjectionSettings, file = '<input>'): { output: string; errors: string[] } {
  const errors: string[] = [];
  const out: string[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) {
      errors.push(`${file}: document ${i + 1}: ${doc.errors[0].message}`);
      continue;
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      errors.push(`${file}: document ${i + 1} is not a Kubernetes object`);
      continue;
    }
    out.push(stringify(injectObject(value as Obj, settings), { lineWidth: 0 }));
  }
  return { output: out.join('---\n'), errors };
}
