import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { MizzenError } from '../lib/errors.ts';

/** One local port of `mizzen up --kube` forwarded to a Service of the cluster. */
export interface KubeForward {
  namespace: string;
  service: string;
  port: number;
  localPort: number;
  /** The supervising shell's pid (its process group holds kubectl). */
  pid?: number;
}

/** Whether 127.0.0.1:port can be bound now. */
export function localPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free local port (the kernel's pick). */
export function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * `--expose` and the ingress gateway's local ports with `--kube`: `kubectl port-forward
 * --address 127.0.0.1 -n NS svc/NAME LOCAL:PORT`, as a user would run it (it reaches one ready pod
 * of the Service through the API server and the node's kubelet API, into the pod's network
 * namespace: like file mode's `--expose`, it bypasses the pod's sidecar). kubectl sticks to the pod
 * it picked and exits when that pod goes (a rollout), so a shell restarts it; the shell leads its
 * own process group, which `stopKubeForward` ends. Resolves once the local port accepts.
 */
export async function startKubeForward(f: KubeForward, kubectl: string, kubeconfig: string, logFile: string, deadline: number): Promise<KubeForward> {
  const fd = openSync(logFile, 'a');
  const argv = [kubectl, '--kubeconfig', kubeconfig, 'port-forward', '--address', '127.0.0.1', '-n', f.namespace, `svc/${f.service}`, `${f.localPort}:${f.port}`].map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
  const child = spawn('sh', ['-c', `while :; do ${argv.join(' ')}; sleep 1; done`], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const started = { ...f, pid: child.pid };
  while (!(await accepts(f.localPort))) {
    if (Date.now() > deadline) {
      stopKubeForward(started);
      const log = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new MizzenError('RUNTIME_FAILED', `kubectl port-forward ${f.namespace}/${f.service} ${f.localPort}:${f.port} did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return started;
}

/** End a forward's shell and its kubectl (their process group). */
export function stopKubeForward(f: KubeForward): void {
  if (!f.pid) return;
  try {
    process.kill(-f.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}
