import type { Duplex } from 'node:stream';
import type { ConfigResource } from '../api/config-resource.ts';
import { KINDS, lookupKind, type KindInfo } from '../api/kinds.ts';
import { parseDocuments } from '../control/config/parse-documents.ts';
import { MizzenError } from '../lib/errors.ts';
// Types only: the client library loads when a command talks to the API server, not for file mode.
import type { KubeApi } from '../lib/kube/kube-api.ts';
import { deletedLine, kindLabel, type ObjectRef } from '../runtime/object-edits.ts';
import type { ChangeOutcome, ClusterAccess, ExecIo, KubeObject, LogOptions, SubmittedFile } from './cluster-access.ts';
import { KubeResourceMapper, resourcePath, type ResourceMapping } from './kube-resource-mapper.ts';
import type { KubectlPodDialer } from './kube-port-forward.ts';
import { resolvePod } from './pod-target.ts';

/** The field manager of `mizzen apply`'s server-side apply. */
const FIELD_MANAGER = 'mizzen';
/** How long `delete` waits for deleted objects to be gone (kubectl's `--wait`). */
const DELETE_WAIT_MS = 120_000;

type ApiError = { status?: number; reason?: string; message?: string };

/** An API server refusal in kubectl's words, without our client's `METHOD PATH: CODE REASON:` prefix. */
function refusal(err: unknown, context = ''): string {
  const e = err as ApiError;
  if (!e.status) return e.message ?? String(err);
  const message = (e.message ?? '').replace(/^[A-Z]+ \S+: \d+ [^:]*: /, '');
  return `Error from server (${e.reason ?? e.status}): ${context}${message}`;
}

const isNotFound = (err: unknown): boolean => (err as ApiError).status === 404;

/** kubectl's plural in messages: `deployments.apps`, `pods`. */
const pluralOf = (m: ResourceMapping, group: string): string => (group ? `${m.plural}.${group}` : m.plural);

/**
 * The cluster of `mizzen up --kube`: its API server, through STATE_DIR/kubeconfig. Objects are
 * listed, applied (server-side apply, after the same validation file mode runs, so errors name
 * file and line), deleted (waiting until they are gone, as kubectl), labelled and restarted
 * through the REST API; logs and exec go through the pod `log` and `exec` subresources, as
 * kubectl does (the node serves them behind the API server).
 */
export class KubeClusterAccess implements ClusterAccess {
  private readonly kubeconfig: string;
  private session: Promise<{ api: KubeApi; mapper: KubeResourceMapper }> | undefined;
  private dialer: KubectlPodDialer | undefined;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
  }

  private open(): Promise<{ api: KubeApi; mapper: KubeResourceMapper }> {
    this.session ??= (async () => {
      const { KubeApi: Api, loadKubeConfig } = await import('../lib/kube/kube-api.ts');
      const api = new Api(loadKubeConfig({ file: this.kubeconfig }));
      return { api, mapper: new KubeResourceMapper(api) };
    })();
    return this.session;
  }

  /** A kind Mizzen knows, where it lives (its newest served version). */
  private static known(kind: KindInfo): ResourceMapping {
    return { base: KubeResourceMapper.base(kind.group, kind.versions[0]!), plural: kind.plural, namespaced: kind.namespaced };
  }

  async list(kind: KindInfo, namespace: string | undefined): Promise<KubeObject[]> {
    const { api } = await this.open();
    const m = KubeClusterAccess.known(kind);
    try {
      const r = await api.request<{ items?: KubeObject[] }>('GET', resourcePath(m, namespace));
      const apiVersion = kind.group ? `${kind.group}/${kind.versions[0]}` : kind.versions[0];
      return (r.items ?? []).map((o) => ({ apiVersion, kind: kind.kind, ...o }));
    } catch (err) {
      if (isNotFound(err)) return []; // a CRD that is not installed: nothing of it
      throw new MizzenError('RUNTIME_FAILED', refusal(err));
    }
  }

  /** Documents of the files, with `-n`'s namespace for namespaced objects that name none (kubectl's rule). */
  private async parse(files: readonly SubmittedFile[], namespace: string | undefined): Promise<{ items: { r: ConfigResource; m: ResourceMapping }[]; errors: string[] }> {
    const { mapper } = await this.open();
    const items: { r: ConfigResource; m: ResourceMapping }[] = [];
    const errors: string[] = [];
    for (const f of files) {
      const parsed = parseDocuments(f.text, f.file, { fieldLines: true });
      for (const p of parsed.problems) errors.push(`${p.file}:${p.line}: ${p.message}`);
      for (const r of parsed.resources) {
        const m = await mapper.map(r.group, r.version, r.kind);
        if (!m) {
          errors.push(`resource mapping not found for name: "${r.metadata.name}" namespace: "${r.metadata.namespace ?? namespace ?? ''}" from "${f.file}": no matches for kind "${r.kind}" in version "${r.apiVersion}"\nensure CRDs are installed first`);
          continue;
        }
        if (!m.namespaced) {
          items.push({ r, m });
          continue;
        }
        if (namespace && r.metadata.namespace && r.metadata.namespace !== namespace) {
          errors.push(`the namespace from the provided object "${r.metadata.namespace}" does not match the namespace "${namespace}". You must pass '--namespace=${r.metadata.namespace}' to perform this operation.`);
          continue;
        }
        const ns = r.metadata.namespace ?? namespace ?? 'default';
        const raw = { ...r.raw, metadata: { ...((r.raw.metadata as Record<string, unknown>) ?? {}), namespace: ns } };
        items.push({ r: { ...r, metadata: { ...r.metadata, namespace: ns }, raw }, m });
      }
    }
    return { items, errors };
  }

  /** The checks file mode's apply runs (Istio's validation, what Mizzen refuses), on the kinds it knows. */
  private static async validate(resources: readonly ConfigResource[]): Promise<{ errors: string[]; warnings: string[] }> {
    const known = resources.filter((r) => lookupKind(r.group, r.version, r.kind).known);
    if (known.length === 0) return { errors: [], warnings: [] };
    const [{ ResourceValidator }, { submittedValidator }, { issueLines }] = await Promise.all([
      import('../control/config/validation/validate-resource.ts'),
      import('../control/config/support/served-validator.ts'),
      import('../runtime/issue-lines.ts'),
    ]);
    const rv = new ResourceValidator();
    const check = submittedValidator((r) => rv.validate(r));
    return { errors: issueLines(known, (r) => check(r).errors), warnings: issueLines(known, (r) => check(r).warnings) };
  }

  async apply(files: readonly SubmittedFile[], namespace: string | undefined): Promise<ChangeOutcome> {
    const { api } = await this.open();
    const { items, errors } = await this.parse(files, namespace);
    const checked = await KubeClusterAccess.validate(items.map((i) => i.r));
    errors.push(...checked.errors);
    // Invalid input changes nothing, as in file mode.
    if (errors.length > 0) return { ok: false, errors, warnings: checked.warnings, changes: [] };
    const changes: string[] = [];
    for (const { r, m } of items) {
      const path = resourcePath(m, r.metadata.namespace, r.metadata.name);
      try {
        const before = await api.request<KubeObject>('GET', path).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        const after = await api.request<KubeObject>('PATCH', path, { query: { fieldManager: FIELD_MANAGER, force: true }, body: JSON.stringify(r.raw), contentType: 'application/apply-patch+yaml' });
        const verb = !before ? 'created' : before.metadata?.resourceVersion === after.metadata?.resourceVersion ? 'unchanged' : 'configured';
        changes.push(`${kindLabel(r)} ${verb}`);
      } catch (err) {
        errors.push(refusal(err, `error when applying "${r.origin?.file ?? ''}": `));
      }
    }
    return { ok: errors.length === 0, errors, warnings: checked.warnings, changes };
  }

  async deleteFiles(files: readonly SubmittedFile[], namespace: string | undefined): Promise<ChangeOutcome> {
    const { items, errors } = await this.parse(files, namespace);
    if (errors.length > 0) return { ok: false, errors, changes: [] };
    return this.deleteMapped(items.map(({ r, m }) => ({ ref: r, m })));
  }

  async deleteObjects(refs: readonly ObjectRef[]): Promise<ChangeOutcome> {
    const mapped: { ref: ObjectRef; m: ResourceMapping }[] = [];
    for (const ref of refs) {
      const kind = KINDS.find((k) => k.kind === ref.kind && k.group === ref.group);
      if (!kind) return { ok: false, errors: [`the server doesn't have a resource type "${ref.kind}"`], changes: [] };
      mapped.push({ ref, m: KubeClusterAccess.known(kind) });
    }
    return this.deleteMapped(mapped);
  }

  /** DELETE each (background propagation, kubectl's default), then wait until they are gone. */
  private async deleteMapped(items: readonly { ref: ObjectRef; m: ResourceMapping }[]): Promise<ChangeOutcome> {
    const { api } = await this.open();
    const changes: string[] = [];
    const errors: string[] = [];
    const pending: string[] = [];
    for (const { ref, m } of items) {
      const path = resourcePath(m, ref.metadata.namespace, ref.metadata.name);
      try {
        await api.request('DELETE', path, { query: { propagationPolicy: 'Background' } });
        changes.push(deletedLine(ref));
        pending.push(path);
      } catch (err) {
        errors.push(isNotFound(err) ? `${pluralOf(m, ref.group)} "${ref.metadata.name}" not found` : refusal(err));
      }
    }
    const deadline = Date.now() + DELETE_WAIT_MS;
    while (pending.length > 0 && Date.now() < deadline) {
      const gone = await Promise.all(pending.map((p) => api.request('GET', p).then(() => false, (err: unknown) => isNotFound(err))));
      for (let i = gone.length - 1; i >= 0; i--) if (gone[i]) pending.splice(i, 1);
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 500));
    }
    return { ok: errors.length === 0, errors, changes };
  }

  async label(ref: ObjectRef, labels: Readonly<Record<string, string | null>>, overwrite: boolean): Promise<ChangeOutcome> {
    const { api } = await this.open();
    const kind = KINDS.find((k) => k.kind === ref.kind && k.group === ref.group);
    if (!kind) return { ok: false, errors: [`the server doesn't have a resource type "${ref.kind}"`], changes: [] };
    const m = KubeClusterAccess.known(kind);
    const path = resourcePath(m, ref.metadata.namespace, ref.metadata.name);
    try {
      const current = ((await api.request<KubeObject>('GET', path)).metadata?.labels ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries(labels)) {
        if (v !== null && current[k] !== undefined && current[k] !== v && !overwrite) return { ok: false, errors: [`'${k}' already has a value (${current[k]}), and --overwrite is false`], changes: [] };
      }
      const changed = Object.entries(labels).some(([k, v]) => (v === null ? current[k] !== undefined : current[k] !== v));
      const removed = Object.values(labels).some((v) => v === null);
      if (changed) await api.request('PATCH', path, { body: { metadata: { labels } }, contentType: 'application/merge-patch+json' });
      return { ok: true, errors: [], changes: [`${kindLabel(ref)} ${changed ? (removed ? 'unlabeled' : 'labeled') : 'not labeled'}`] };
    } catch (err) {
      return { ok: false, errors: [isNotFound(err) ? `${pluralOf(m, ref.group)} "${ref.metadata.name}" not found` : refusal(err)], changes: [] };
    }
  }

  /** kubectl rollout restart: the pod template stamped `kubectl.kubernetes.io/restartedAt`; kube-controller-manager rolls it out. */
  async restart(namespace: string, deployment: string): Promise<ChangeOutcome> {
    const { api } = await this.open();
    const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(deployment)}`;
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      await api.request('PATCH', path, { body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } }, contentType: 'application/strategic-merge-patch+json' });
      return { ok: true, errors: [], changes: [`deployment.apps/${deployment} restarted`] };
    } catch (err) {
      return { ok: false, errors: [isNotFound(err) ? `deployments.apps "${deployment}" not found` : refusal(err)], changes: [] };
    }
  }

  /** Through a real `kubectl port-forward` to the pod (kube-port-forward.ts), as `up --kube --expose` forwards. */
  async dialPod(pod: KubeObject, port: number): Promise<Duplex> {
    const { KubectlPodDialer } = await import('./kube-port-forward.ts');
    this.dialer ??= new KubectlPodDialer(this.kubeconfig);
    return this.dialer.dial(String(pod.metadata?.namespace), String(pod.metadata?.name), port);
  }

  /** istioctl's `kubectl exec ... pilot-agent request`: curl on the proxy's admin port inside the istio-proxy container. */
  async proxyAdmin(namespace: string, pod: string, method: 'GET' | 'POST', path: string): Promise<{ pod: string; body: string }> {
    const target = await resolvePod(this, namespace, pod, () => {});
    const name = String(target.metadata?.name);
    if (!(target.spec?.containers ?? []).some((c: KubeObject) => c.name === 'istio-proxy')) throw new MizzenError('USAGE', `pod ${name} has no proxy (it is not injected)`);
    let body = '';
    let err = '';
    const code = await this.exec(target, 'istio-proxy', ['curl', '-sS', '--max-time', '10', '-X', method, `http://127.0.0.1:15000${path}`], { stdin: false, tty: false, stdout: (t) => (body += t), stderr: (t) => (err += t) });
    if (code !== 0) throw new MizzenError('RUNTIME_FAILED', `the proxy of ${name} did not answer on its admin port 15000: ${err.trim() || `exit ${code}`}`, { hint: 'is the pod running? mizzen get pods' });
    return { pod: name, body };
  }

  async logs(pod: KubeObject, container: string, o: LogOptions, out: (text: string) => void): Promise<void> {
    const { api } = await this.open();
    const { podLogs } = await import('./kube-pod-io.ts');
    await podLogs(api, String(pod.metadata?.namespace), String(pod.metadata?.name), container, o, out);
  }

  async exec(pod: KubeObject, container: string, command: readonly string[], io: ExecIo): Promise<number> {
    const { api } = await this.open();
    const { podExec } = await import('./kube-pod-io.ts');
    return podExec(api.config, String(pod.metadata?.namespace), String(pod.metadata?.name), container, command, io);
  }
}
