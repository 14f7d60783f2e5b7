import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, REPO, tempDir, waitFor } from './netns-test-support.ts';

/** Istio's published samples (../shared/istio), as the task pages reference them. */
export const SAMPLES = join(REPO, '../shared/istio/istio/samples');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A mesh run by `mizzen up -d` for following one of Istio's task pages: every step is a `mizzen`
 * command where the page has `kubectl`/`istioctl` (apply, exec, logs, delete), so the test reads
 * like the page. Manifests the page writes inline are written to files first.
 */
export class TaskMesh {
  readonly dir: string;
  prefix = '';
  private seq = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** `mizzen up -d` over `manifests` (file name → YAML; namespaces and mesh config the page sets up first). */
  static async up(tag: string, manifests: Record<string, string>, args: string[] = []): Promise<TaskMesh> {
    const m = new TaskMesh(tempDir(tag));
    const dir = join(m.dir, 'manifests');
    mkdirSync(dir);
    for (const [name, text] of Object.entries(manifests)) writeFileSync(join(dir, name), text);
    const up = await m.cli(['up', '-d', dir, ...args]);
    m.prefix = readMeshState(join(m.dir, '.mizzen'))?.prefix ?? '';
    assert.equal(up.code, 0, `mizzen up: ${up.stderr}`);
    return m;
  }

  cli(args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  }

  /** `kubectl apply [-n NS] -f FILE` for a file of Istio's samples or YAML the page gives inline. */
  async apply(yamlOrFile: string, ns?: string): Promise<void> {
    let file = yamlOrFile;
    if (!existsSync(yamlOrFile)) {
      file = join(this.dir, `step-${++this.seq}.yaml`);
      writeFileSync(file, yamlOrFile);
    }
    const r = await this.cli(['apply', ...(ns ? ['-n', ns] : []), '-f', file]);
    assert.equal(r.code, 0, `mizzen apply ${file}: ${r.stderr}`);
  }

  async delete(yamlOrFile: string, ns?: string): Promise<void> {
    let file = yamlOrFile;
    if (!existsSync(yamlOrFile)) {
      file = join(this.dir, `step-${++this.seq}.yaml`);
      writeFileSync(file, yamlOrFile);
    }
    const r = await this.cli(['delete', ...(ns ? ['-n', ns] : []), '-f', file]);
    assert.equal(r.code, 0, `mizzen delete ${file}: ${r.stderr}`);
  }

  /** `kubectl exec -n NS deploy/NAME -c CONTAINER -- CMD...` */
  exec(ns: string, target: string, cmd: string[]): Promise<CliResult> {
    return this.cli(['exec', '-n', ns, target, '--', ...cmd]);
  }

  /** `kubectl logs -n NS deploy/NAME [-c CONTAINER]` */
  async logs(ns: string, target: string, container?: string): Promise<string> {
    const r = await this.cli(['logs', '-n', ns, target, ...(container ? ['-c', container] : [])]);
    return r.stdout;
  }

  /** Wait until every pod of `app` in `ns` shows all containers ready. */
  async ready(ns: string, app: string, timeoutMs = 90_000): Promise<void> {
    await waitFor(`${ns}/${app} ready`, async () => {
      const out = (await this.cli(['get', 'pods', '-n', ns])).stdout;
      const rows = out.split('\n').filter((l) => l.startsWith(`${app}-`) || l.startsWith(`${app} `));
      return rows.length > 0 && rows.every((l) => /\s(\d+)\/\1\s+Running/.test(l));
    }, timeoutMs);
  }

  /** Wait until `check` holds `times` times in a row (config reached every proxy; answers settled). */
  async settles(what: string, check: () => Promise<boolean>, timeoutMs = 45_000, times = 3): Promise<void> {
    let streak = 0;
    await waitFor(what, async () => {
      streak = (await check().catch(() => false)) ? streak + 1 : 0;
      return streak >= times;
    }, timeoutMs);
  }

  async down(): Promise<void> {
    if (existsSync(join(this.dir, '.mizzen'))) {
      const r = await this.cli(['down']);
      assert.equal(r.code, 0, r.stderr);
    }
    if (this.prefix) assert.deepEqual(await leftovers(this.prefix, []), []);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The namespace manifest for `kubectl create ns NAME; kubectl label ns NAME istio-injection=enabled`. */
export function injectedNamespace(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n    istio-injection: enabled\n`;
}

/** ConfigMap `istio` in istio-system with MeshConfig YAML under `mesh` (what `kubectl edit configmap istio` changes). */
export function meshConfigMap(mesh: string): string {
  const indented = mesh.split('\n').map((l) => (l ? `    ${l}` : l)).join('\n');
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\ndata:\n  mesh: |\n${indented}\n`;
}
