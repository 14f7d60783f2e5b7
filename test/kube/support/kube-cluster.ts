import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A real Kubernetes control plane for tests (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler), started by scripts/kube-cluster.sh from binaries it built into its cache.
 * Tests skip with a message when the binaries are absent; CI builds them first (.ci/run), and
 * there MIZZEN_KUBE_REQUIRED=1 makes their absence a failure instead.
 */
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const script = join(repo, 'scripts', 'kube-cluster.sh');

export function kubeBinDir(): string | undefined {
  const r = spawnSync('bash', [script, 'bin-dir'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** `undefined` when tests may run; else the reason to skip. Throws when CI requires the cluster. */
export function kubeSkipReason(): string | undefined {
  if (kubeBinDir()) return undefined;
  const reason = 'Kubernetes binaries not built: run scripts/kube-cluster.sh build (CI does)';
  if (process.env.MIZZEN_KUBE_REQUIRED === '1') throw new Error(reason);
  return reason;
}

function portsFree(base: number, n: number): Promise<boolean> {
  const one = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  return Promise.all(Array.from({ length: n }, (_, i) => one(base + i))).then((r) => r.every(Boolean));
}

export interface TestCluster {
  dir: string;
  kubeconfig: string;
  server: string;
  /** Run kubectl against the cluster; resolves with stdout, rejects with stderr. */
  kubectl(args: string[], input?: string): Promise<string>;
  /** kubectl that may fail: exit code and both outputs. */
  kubectlResult(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Start again what of the cluster is not running (e.g. a kube-apiserver the test killed). */
  startAgain(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The pod CIDR of each test file whose clusters run nodes: a /20 of its own in 10.244.0.0/16, fixed
 * so that files running at the same time (npm test runs two at once) never pick the same one (a
 * random pick of 15 did, 1 in 15: "pod CIDR ... is already routed on this machine").
 */
export const TEST_CLUSTER_CIDRS = {
  nodeKube: '10.244.16.0/20',
  upKubeVerbs: '10.244.32.0/20',
  upKube: '10.244.48.0/20',
} as const;

/** `clusterCidr`: nodes' pod CIDRs come from it (one /24 each); clusters whose nodes run at once need distinct ones. */
export async function startTestCluster(o: { controllers?: boolean; clusterCidr?: string } = {}): Promise<TestCluster> {
  const bin = kubeBinDir();
  if (!bin) throw new Error('Kubernetes binaries not built');
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-kube-'));
  let base = 0;
  for (let i = 0; i < 50 && base === 0; i++) {
    const candidate = 27000 + 5 * Math.floor(Math.random() * 900);
    if (await portsFree(candidate, 5)) base = candidate;
  }
  const args = ['start', dir, '--port-base', String(base), ...(o.controllers === false ? ['--no-controllers'] : []), ...(o.clusterCidr ? ['--cluster-cidr', o.clusterCidr] : [])];
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('bash', [script, 'stop', dir]);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kube-cluster start failed: ${r.stderr}`);
  }
  const kubeconfig = join(dir, 'kubeconfig');
  const kubectlResult = (a: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = execFile(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, ...a], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  return {
    dir,
    kubeconfig,
    server: `https://127.0.0.1:${base + 2}`,
    kubectlResult,
    async kubectl(a, input) {
      const res = await kubectlResult(a, input);
      if (res.code !== 0) throw new Error(`kubectl ${a.join(' ')}: ${res.stderr}`);
      return res.stdout;
    },
    startAgain: () =>
      new Promise((resolve, reject) => {
        execFile('bash', [script, ...args], (err, _stdout, stderr) => (err ? reject(new Error(`kube-cluster start again failed: ${stderr}`)) : resolve()));
      }),
    async stop() {
      execFileSync('bash', [script, 'stop', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Wait until `cond` holds (polling every 50 ms), or fail naming `what`. */
export async function eventually<T>(cond: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
