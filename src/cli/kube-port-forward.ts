import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { MizzenError } from '../lib/errors.ts';

const KUBE_CLUSTER_SCRIPT = fileURLToPath(new URL('../../scripts/kube-cluster.sh', import.meta.url));

/** The kubectl of the test cluster's build (scripts/kube-cluster.sh), else the one on PATH. */
export function clusterKubectl(): string {
  const r = spawnSync('bash', [KUBE_CLUSTER_SCRIPT, 'bin-dir'], { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout.trim()}/kubectl` : 'kubectl';
}

/**
 * Connections to pods of an `up --kube` cluster for `mizzen port-forward`: one real `kubectl
 * port-forward pod/NAME :PORT` per pod and port (through the API server and the node's
 * port-forward, SPDY, for which the CLI has no client of its own), started on the first
 * connection and dialled on 127.0.0.1; the kubectl processes end with this process.
 */
export class KubectlPodDialer {
  private readonly kubeconfig: string;
  private readonly forwards = new Map<string, Promise<number>>();
  private readonly children: ChildProcess[] = [];
  private kubectl: string | undefined;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
    process.once('exit', () => this.close());
  }

  async dial(namespace: string, pod: string, port: number): Promise<net.Socket> {
    const key = `${namespace}/${pod}:${port}`;
    let local = this.forwards.get(key);
    if (!local) {
      local = this.start(namespace, pod, port);
      this.forwards.set(key, local);
      local.catch(() => this.forwards.delete(key));
    }
    const at = await local;
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port: at });
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        resolve(sock);
      });
      sock.once('error', (err) => {
        this.forwards.delete(key);
        reject(err);
      });
    });
  }

  private start(namespace: string, pod: string, port: number): Promise<number> {
    this.kubectl ??= clusterKubectl();
    const child = spawn(this.kubectl, ['--kubeconfig', this.kubeconfig, 'port-forward', '-n', namespace, `pod/${pod}`, `:${port}`, '--address', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    // Not what keeps this process alive (its listeners do); killed on exit.
    child.unref();
    for (const s of [child.stdout, child.stderr]) (s as net.Socket | null)?.unref();
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => fail(`no answer from kubectl port-forward in 60 s${err ? `: ${err.trim()}` : ''}`), 60_000);
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.kill();
        reject(new MizzenError('RUNTIME_FAILED', `kubectl port-forward to ${namespace}/${pod}:${port}: ${why}`));
      };
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.once('error', (e) => fail(e.message));
      child.once('exit', (code) => {
        this.forwards.delete(`${namespace}/${pod}:${port}`);
        fail(`exited (${code}): ${err.trim()}`);
      });
    });
  }

  close(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill();
  }
}
