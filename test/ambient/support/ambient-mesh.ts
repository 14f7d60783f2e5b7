import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runHostCommand } from '../../../src/runtime/host-command.ts';
import { readMeshState } from '../../../src/runtime/runtime-state.ts';
import { cli, leftovers, REPO, tempDir } from '../../runtime/netns-test-support.ts';

/**
 * One `mizzen up -d` mesh for an ambient test file, driven through the real CLI as a user would:
 * `create` (in before()) writes the manifests into a fresh directory, `up` starts the mesh there
 * and fails with its stderr, the helpers read it the way the tests look at it (kubectl-style pod
 * lists, curl from inside a pod, ztunnel's access log), and `down` (in after(), also after a
 * failure) takes it down and checks that nothing of it is left.
 */
export const ECHO_SERVER = join(REPO, 'test/runtime/fixtures/echo-server.ts');

/**
 * A ServiceAccount and a one-pod Deployment `NAME` (label app=NAME) in `ns`: `sleep` is curl
 * sleeping (exec into container `main`), `echo` the test echo server on 8080 with a Service on
 * port 80.
 */
export function appManifest(ns: string, name: string, kind: 'sleep' | 'echo'): string {
  const container = kind === 'echo' ? `{name: main, command: ["node", "${ECHO_SERVER}"], ports: [{containerPort: 8080}]}` : '{name: main, image: curl, command: [sleep, infinity]}';
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${name}, namespace: ${ns}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      serviceAccountName: ${name}
      containers: [${container}]
${kind === 'echo' ? `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80, targetPort: 8080}]
` : ''}`;
}

/** A Namespace; `ambient`: labelled `istio.io/dataplane-mode: ambient`, `injected`: `istio-injection: enabled`. */
export function namespaceManifest(name: string, mode?: 'ambient' | 'injected'): string {
  const labels = mode === 'ambient' ? '\n  labels: {istio.io/dataplane-mode: ambient}' : mode === 'injected' ? '\n  labels: {istio-injection: enabled}' : '';
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}${labels}
`;
}

/** PeerAuthentication `strict` with mode STRICT in `ns` (istio-system: the whole mesh). */
export function strictManifest(ns: string): string {
  return `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: ${ns}}
spec:
  mtls: {mode: STRICT}
`;
}

export interface MeshPod {
  name: string;
  namespace: string;
  app: string | undefined;
  ip: string;
}

export interface CurlResult {
  /** curl's %{http_code}: `000` when the connection failed, empty when curl did not run. */
  status: string;
  body: string;
}

export class AmbientMesh {
  private readonly tag: string;
  dir = '';
  prefix = '';

  constructor(tag: string) {
    this.tag = tag;
  }

  get manifests(): string {
    return join(this.dir, 'mesh');
  }

  get state(): string {
    return join(this.dir, '.mizzen');
  }

  /** A fresh directory with `mesh/mesh.yaml` (for before()). */
  create(meshYaml: string): void {
    this.dir = tempDir(this.tag);
    mkdirSync(this.manifests);
    writeFileSync(join(this.manifests, 'mesh.yaml'), meshYaml);
  }

  /** A fresh directory with the repository's Bookinfo example in ambient mode (no sidecars) under `mesh/`, and `extra` files beside it. */
  createBookinfo(extra: Record<string, string> = {}): void {
    this.dir = tempDir(this.tag);
    mkdirSync(this.manifests);
    const example = join(REPO, 'examples/bookinfo');
    for (const f of readdirSync(example)) if (f.endsWith('.ts')) copyFileSync(join(example, f), join(this.manifests, f));
    writeFileSync(join(this.manifests, 'bookinfo.yaml'), readFileSync(join(example, 'bookinfo.yaml'), 'utf8').replace('istio-injection: enabled', 'istio.io/dataplane-mode: ambient'));
    for (const [name, yaml] of Object.entries(extra)) writeFileSync(join(this.manifests, name), yaml);
  }

  /** `mizzen up -d mesh/ ARGS` (`--timeout 240s` unless ARGS say); fails the test with up's stderr (and `onFailure`'s text). */
  async up(args: string[] = [], onFailure: () => string = () => ''): Promise<void> {
    const up = await this.cli(['up', '-d', this.manifests, ...(args.includes('--timeout') ? [] : ['--timeout', '240s']), ...args]);
    this.prefix = readMeshState(this.state)?.prefix ?? '';
    assert.equal(up.code, 0, `${up.stderr}\n${onFailure()}`);
  }

  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return cli(args, this.dir);
  }

  /** `mizzen apply -f` of this YAML (written to a file of its own); fails the test on an error. */
  apply(yaml: string): Promise<void> {
    return this.kubectl('apply', yaml);
  }

  /** `mizzen delete -f` of this YAML. */
  delete(yaml: string): Promise<void> {
    return this.kubectl('delete', yaml);
  }

  private async kubectl(verb: 'apply' | 'delete', yaml: string): Promise<void> {
    const f = join(this.dir, `${verb}-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, yaml);
    const r = await this.cli([verb, '-f', f]);
    assert.equal(r.code, 0, r.stderr);
  }

  /** kubectl get pods -o json: the pods of a namespace (`default` when none is given). */
  async pods(namespace?: string): Promise<MeshPod[]> {
    const list = JSON.parse((await this.cli(['get', 'pods', ...(namespace ? ['-n', namespace] : []), '-o', 'json'])).stdout) as { items: { metadata: { name: string; namespace: string; labels?: Record<string, string> }; status: { podIP: string } }[] };
    return list.items.map((p) => ({ name: p.metadata.name, namespace: p.metadata.namespace, app: p.metadata.labels?.app, ip: p.status.podIP }));
  }

  /** Pod names by their `app` label, over these namespaces. */
  async podsByApp(namespaces: string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const ns of namespaces) for (const p of await this.pods(ns)) if (p.app) out[p.app] = p.name;
    return out;
  }

  /**
   * curl from inside a pod (as its application would): `mizzen exec [-n NS] POD [-c C] -- curl -s
   * --max-time 5 -w '\n%{http_code}' ARGS`.
   */
  async curl(from: { pod: string; namespace?: string; container?: string }, args: string[]): Promise<CurlResult> {
    const target = [...(from.namespace ? ['-n', from.namespace] : []), from.pod, ...(from.container ? ['-c', from.container] : [])];
    const r = await this.cli(['exec', ...target, '--', 'curl', '-s', '--max-time', '5', '-w', '\n%{http_code}', ...args]);
    const i = r.stdout.lastIndexOf('\n');
    return { status: r.stdout.slice(i + 1).trim(), body: r.stdout.slice(0, Math.max(i, 0)) };
  }

  /** A log of the mesh (STATE/logs/NAME.log), empty until it exists. */
  log(name: string): string {
    const f = join(this.state, 'logs', `${name}.log`);
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  /** The lines of mizzen's ztunnel access log. */
  accessLog(): string[] {
    return this.log('ztunnel-access').split('\n');
  }

  /** curl from the node namespace (where discovery and the node's ztunnel run). */
  async nodeCurl(url: string): Promise<string> {
    return (await runHostCommand('ip', ['netns', 'exec', `${this.prefix}-node`, 'curl', '-s', '--max-time', '5', url], { allowFailure: true })).stdout;
  }

  /** For after(): `mizzen down`, nothing of the mesh left behind, the directory removed. */
  async down(): Promise<void> {
    if (!this.dir) return;
    if (existsSync(this.state)) await this.cli(['down']);
    if (this.prefix) assert.deepEqual(await leftovers(this.prefix, []), []);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
