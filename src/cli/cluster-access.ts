import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import { isAbsolute, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { KindInfo } from '../api/kinds.ts';
import { MizzenError } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import type { SubmittedFile } from '../runtime/control-server.ts';
import { readSubmittedFiles } from '../runtime/local-mesh.ts';
import type { ObjectRef } from '../runtime/object-edits.ts';
import type { PodStatusView } from '../runtime/pod-instance.ts';
import { requireRootLinux, stateDirFrom } from '../runtime/runtime-config.ts';
import { asUserArgv, netnsExecArgv } from '../runtime/netns.ts';
import { runHostCommand } from '../runtime/host-command.ts';
import { KubeClusterAccess } from './kube-cluster-access.ts';

/** What a change did, in kubectl's words: `deployment.apps/x configured`, errors to report. */
export interface ChangeOutcome {
  ok: boolean;
  errors: string[];
  warnings?: string[];
  changes: string[];
}

/** A Kubernetes-shaped object (apiVersion, kind, metadata, spec, status). */
export type KubeObject = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export type { ObjectRef, SubmittedFile };

/**
 * The cluster the kubectl-style verbs (get, apply, delete, label, rollout, create) act on. The
 * file-mode mesh of `mizzen up` implements it over its control socket (LocalClusterAccess), the
 * API server of `mizzen up --kube` through its REST API and pod subresources (KubeClusterAccess).
 * Objects come back as the Kubernetes API shows them, so every printer works on either.
 */
export interface ClusterAccess {
  list(kind: KindInfo, namespace: string | undefined): Promise<KubeObject[]>;
  apply(files: readonly SubmittedFile[], namespace: string | undefined): Promise<ChangeOutcome>;
  deleteFiles(files: readonly SubmittedFile[], namespace: string | undefined): Promise<ChangeOutcome>;
  deleteObjects(refs: readonly ObjectRef[]): Promise<ChangeOutcome>;
  label(ref: ObjectRef, labels: Readonly<Record<string, string | null>>, overwrite: boolean): Promise<ChangeOutcome>;
  restart(namespace: string, deployment: string): Promise<ChangeOutcome>;
  /** A byte stream to a port of a pod (for port-forward), as the pod's own network sees it. */
  dialPod(pod: KubeObject, port: number): Promise<Duplex>;
  /**
   * A request to the admin port (15000, localhost only) of a pod's proxy, from inside the pod
   * (istioctl does `kubectl exec ... pilot-agent request`): `POD` or `deploy/NAME`.
   */
  proxyAdmin(namespace: string, pod: string, method: 'GET' | 'POST', path: string): Promise<{ pod: string; body: string }>;
  /** A container's log (`kubectl logs`), handed to `out` as it comes; with `follow`, until `signal` aborts or the container ends. */
  logs(pod: KubeObject, container: string, o: LogOptions, out: (text: string) => void): Promise<void>;
  /** Run a command in a container (`kubectl exec`); resolves with its exit code. */
  exec(pod: KubeObject, container: string, command: readonly string[], io: ExecIo): Promise<number>;
}

export interface LogOptions {
  follow: boolean;
  /** Only the last N lines. */
  tail?: number;
  signal: AbortSignal;
}

export interface ExecIo {
  /** `-i`: the command's standard input. */
  stdin: boolean;
  /** `-t`: the terminal is the command's (raw, resized). */
  tty: boolean;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The local mesh (`mizzen up`) behind its control socket. */
export class LocalClusterAccess implements ClusterAccess {
  private readonly client: ControlClient;
  private readonly stateDir: string;

  constructor(stateDir: string) {
    this.stateDir = stateDir;
    this.client = new ControlClient(stateDir);
  }

  list(kind: KindInfo, namespace: string | undefined): Promise<KubeObject[]> {
    return this.client.get<KubeObject[]>('/objects', { kind: kind.kind, group: kind.group, namespace: kind.namespaced ? namespace : undefined });
  }

  apply(files: readonly SubmittedFile[], namespace: string | undefined): Promise<ChangeOutcome> {
    return this.client.post<ChangeOutcome>('/apply', { files, namespace });
  }

  deleteFiles(files: readonly SubmittedFile[], namespace: string | undefined): Promise<ChangeOutcome> {
    return this.client.post<ChangeOutcome>('/delete', { files, namespace });
  }

  deleteObjects(refs: readonly ObjectRef[]): Promise<ChangeOutcome> {
    return this.client.post<ChangeOutcome>('/delete-objects', { refs });
  }

  label(ref: ObjectRef, labels: Readonly<Record<string, string | null>>, overwrite: boolean): Promise<ChangeOutcome> {
    return this.client.post<ChangeOutcome>('/label', { ref, labels, overwrite });
  }

  restart(namespace: string, deployment: string): Promise<ChangeOutcome> {
    return this.client.post<ChangeOutcome>('/restart', { namespace, name: deployment });
  }

  async proxyAdmin(namespace: string, pod: string, method: 'GET' | 'POST', path: string): Promise<{ pod: string; body: string }> {
    const view = await this.client.get<{ name: string; netns: string; sidecar: boolean }>('/pod', { namespace, ref: pod });
    if (!view.sidecar) throw new MizzenError('USAGE', `pod ${view.name} has no proxy (it is not injected)`);
    const argv = netnsExecArgv(view.netns, ['curl', '-sS', '--max-time', '10', '-X', method, `http://127.0.0.1:15000${path}`]);
    const r = await runHostCommand(argv[0], argv.slice(1), { allowFailure: true });
    if (r.code !== 0) throw new MizzenError('RUNTIME_FAILED', `the proxy of ${view.name} did not answer on its admin port 15000: ${r.stderr.trim() || `exit ${r.code}`}`, { hint: 'is the pod running? mizzen get pods' });
    return { pod: view.name, body: r.stdout };
  }

  async logs(pod: KubeObject, container: string, o: LogOptions, out: (text: string) => void): Promise<void> {
    const r = await this.client.get<{ text: string; file: string }>('/logs', { namespace: pod.metadata?.namespace, ref: pod.metadata?.name, container });
    const lines = r.text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const shown = o.tail === undefined ? lines : lines.slice(Math.max(0, lines.length - o.tail));
    if (shown.length > 0) out(`${shown.join('\n')}\n`);
    if (o.follow) await followFile(r.file, Buffer.byteLength(r.text), o.signal, out);
  }

  /** In the pod's network namespace as the app's user (its traffic captured as the app's); stdin is always passed. */
  async exec(pod: KubeObject, _container: string, command: readonly string[], io: ExecIo): Promise<number> {
    requireRootLinux('exec');
    const view = await this.client.get<PodStatusView>('/pod', { namespace: pod.metadata?.namespace, ref: pod.metadata?.name });
    const argv = netnsExecArgv(view.netns, asUserArgv(view.appUid, view.appGid, [...command]));
    const child = spawn(argv[0], argv.slice(1), { stdio: io.tty ? 'inherit' : ['inherit', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => io.stdout(d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => io.stderr(d.toString('utf8')));
    return new Promise<number>((resolve) => {
      child.on('error', (err) => {
        io.stderr(`error: ${err.message}\n`);
        resolve(127);
      });
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  }

  /** Through the mesh's node agent, which dials pod addresses from the node namespace (like the kubelet). */
  dialPod(pod: KubeObject, port: number): Promise<Duplex> {
    const ip = String(pod.status?.podIP ?? '');
    return new Promise((resolve, reject) => {
      const sock = net.connect(join(this.stateDir, 'node-agent.sock'));
      let head = Buffer.alloc(0);
      const fail = (err: Error): void => {
        sock.destroy();
        reject(err);
      };
      sock.once('error', (err: NodeJS.ErrnoException) => fail(err.code === 'EACCES' ? new MizzenError('RUNTIME_NOT_ROOT', 'permission denied on the mesh\'s node agent socket', { hint: 'run this command with sudo' }) : err));
      sock.once('connect', () => sock.write(`${JSON.stringify({ host: ip, port })}\n`));
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const nl = head.indexOf(10);
        if (nl < 0) return;
        sock.off('data', onData);
        sock.pause();
        const line = head.subarray(0, nl).toString();
        if (!line.startsWith('OK')) return fail(new MizzenError('RUNTIME_FAILED', `cannot connect to ${ip}:${port}: ${line.replace(/^ERR /, '')}`));
        sock.removeAllListeners('error');
        const rest = head.subarray(nl + 1);
        if (rest.length > 0) sock.unshift(rest);
        resolve(sock);
      };
      sock.on('data', onData);
    });
  }
}

/** Print what is appended to `file` from `offset` on, until `signal` aborts. */
async function followFile(file: string, offset: number, signal: AbortSignal, out: (text: string) => void): Promise<void> {
  const fh = await open(file, 'r');
  try {
    let pos = offset;
    const buf = Buffer.alloc(65536);
    while (!signal.aborted) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        out(buf.subarray(0, bytesRead).toString('utf8'));
      } else await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await fh.close();
  }
}

/**
 * The cluster of the state directory (`--state-dir`, default `.mizzen`): the API server of an
 * `up --kube` mesh (its STATE_DIR/kube.json and kubeconfig), else the file-mode mesh.
 */
export function openClusterAccess(flags: { stateDir?: string }, cwd: string): ClusterAccess {
  const stateDir = stateDirFrom(flags.stateDir, cwd);
  if (existsSync(join(stateDir, 'kube.json')) && existsSync(join(stateDir, 'kubeconfig'))) return new KubeClusterAccess(join(stateDir, 'kubeconfig'));
  return new LocalClusterAccess(stateDir);
}

/** kubectl's name for standard input in messages. */
export const STDIN_NAME = 'STDIN';

/**
 * `-f` arguments as kubectl takes them: files, directories (their *.yaml/*.yml/*.json) and `-`
 * for standard input (heredocs), read once.
 */
export function readFilenameArgs(paths: readonly string[], cwd: string, readStdin: () => string = () => readFileSync(0, 'utf8')): { files: SubmittedFile[]; errors: string[] } {
  const files: SubmittedFile[] = [];
  const errors: string[] = [];
  let stdinRead = false;
  for (const p of paths) {
    if (p === '-') {
      if (stdinRead) continue;
      stdinRead = true;
      try {
        files.push({ file: STDIN_NAME, text: readStdin() });
      } catch (err) {
        errors.push(`cannot read standard input: ${(err as Error).message}`);
      }
      continue;
    }
    const abs = isAbsolute(p) ? p : join(cwd, p);
    if (!existsSync(abs)) {
      errors.push(`the path "${p}" does not exist`);
      continue;
    }
    const read = readSubmittedFiles([abs]);
    files.push(...read.files);
    errors.push(...read.errors);
  }
  if (paths.length > 0 && files.length === 0 && errors.length === 0) errors.push('no objects passed to apply');
  return { files, errors };
}

/** Throw kubectl's usage error when no -f is given. */
export function requireFilenames(paths: readonly string[]): void {
  if (paths.length === 0) throw new MizzenError('USAGE', 'must specify one of -f and -k');
}
