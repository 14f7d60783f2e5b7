/**
 * The chaos suite's mesh: `mizzen up -d` of a manifest directory with a state directory of its
 * own, found processes (discovery, a pod's sidecar or app) by their parent (the mesh process),
 * their command line and their network namespace, discovery's debug endpoints over its Unix
 * socket, and a `mizzen down` that always runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMeshState } from '../src/runtime/runtime-state.ts';

export const REPO = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(REPO, 'bin/mizzen.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `mizzen` CLI in `cwd` (the mesh's directory: its state is `cwd/.mizzen`). */
export function mizzen(args: readonly string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Starts `mizzen exec POD -- ARGV` in the background (a load generator in a pod). */
export function mizzenExecChild(pod: string, argv: readonly string[], cwd: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'exec', pod, '--', ...argv], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface ProcessInfo {
  pid: number;
  argv: string[];
  netns: string | undefined;
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/** The named network namespace (`ip netns`) a process is in, by inode. */
function netnsOf(pid: number, byInode: Map<string, string>): string | undefined {
  try {
    return byInode.get(readlinkSync(`/proc/${pid}/ns/net`));
  } catch {
    return undefined;
  }
}

/** Named network namespaces by inode, as /proc/PID/ns/net reads it (`net:[INODE]`). */
function namedNetnsInodes(): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.set(`net:[${statSync(`/run/netns/${n}`).ino}]`, n);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

export class ChaosMesh {
  readonly dir: string;
  private meshPid = 0;
  prefix = '';

  constructor(dir: string) {
    this.dir = dir;
  }

  get stateDir(): string {
    return join(this.dir, '.mizzen');
  }

  async up(manifests: string, timeout = '300s'): Promise<void> {
    const r = await mizzen(['up', '-d', manifests, '--dashboard-port', 'none', '--timeout', timeout], this.dir);
    const state = readMeshState(this.stateDir);
    this.meshPid = state?.pid ?? 0;
    this.prefix = state?.prefix ?? '';
    if (r.code !== 0) throw new Error(`mizzen up failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  }

  /** `mizzen down` (idempotent): processes, namespaces, nft tables, routes and state go. */
  async down(): Promise<CliResult> {
    return mizzen(['down'], this.dir);
  }

  /** The mesh's direct children (discovery, the node agent, every pod's containers). */
  children(): ProcessInfo[] {
    const inodes = namedNetnsInodes();
    const out: ProcessInfo[] = [];
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || parentOf(pid) !== this.meshPid) continue;
      out.push({ pid, argv: argvOf(pid), netns: netnsOf(pid, inodes) });
    }
    return out;
  }

  /** The running discovery process (`mizzen discovery --config STATE/config`). */
  discoveryPid(): number | undefined {
    const config = join(this.stateDir, 'config');
    return this.children().find((p) => p.argv.includes('discovery') && p.argv.includes(config))?.pid;
  }

  /** The sidecars (`mizzen proxy sidecar`) of the pods in `default` whose name starts with `podPrefix` (e.g. `server-`). */
  sidecars(podPrefix: string): { pid: number; pod: string }[] {
    const out: { pid: number; pod: string }[] = [];
    for (const p of this.children()) {
      if (!p.argv.includes('proxy') || !p.argv.includes('sidecar')) continue;
      const m = p.argv.map((a) => /\/pods\/default_([^/]+)\//.exec(a)).find((x) => x !== null);
      if (m && m[1]!.startsWith(podPrefix)) out.push({ pid: p.pid, pod: m[1]! });
    }
    return out;
  }

  /** The app processes (argv[0] ends with `binary`) of the pods in `default` whose name starts with `podPrefix`. */
  apps(binary: string, podPrefix: string): { pid: number; pod: string }[] {
    const ns = `${this.prefix}-default.`;
    return this.children()
      .filter((p) => (p.argv[0] ?? '').endsWith(binary) && (p.netns ?? '').startsWith(`${ns}${podPrefix}`))
      .map((p) => ({ pid: p.pid, pod: p.netns!.slice(ns.length) }));
  }

  /** GET a path of discovery's debug HTTP (its Unix socket: :15014's handlers). */
  discoveryGet(path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ socketPath: join(this.stateDir, 'discovery.sock'), path, timeout: timeoutMs }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
  }

  /** Sum of a discovery counter's samples (e.g. `pilot_xds_pushes`), optionally by a label filter. */
  async discoveryCounter(name: string, filter?: (labels: string) => boolean): Promise<number> {
    const { body } = await this.discoveryGet('/metrics');
    let sum = 0;
    for (const line of body.split('\n')) {
      const m = new RegExp(`^${name}(\\{[^}]*\\})? ([0-9.e+-]+)$`).exec(line);
      if (m && (!filter || filter(m[1] ?? ''))) sum += Number(m[2]);
    }
    return sum;
  }

  /** The proxies connected to discovery, each with its sync state (`/debug/syncz`). */
  async syncz(): Promise<{ podName: string; connectedAt: string; status: Record<string, string> }[]> {
    const r = await this.discoveryGet('/debug/syncz');
    if (r.status !== 200) throw new Error(`syncz answered ${r.status}`);
    return JSON.parse(r.body) as { podName: string; connectedAt: string; status: Record<string, string> }[];
  }
}

/** The client sidecar's cluster stats for the server (admin :15000/stats, Envoy's names): counter → value. */
export async function clientClusterStats(mesh: ChaosMesh): Promise<Record<string, number>> {
  return clientStats(mesh, /^cluster\.outbound\|8080\|\|server\.default\.svc\.cluster\.local\.([a-z0-9_.]+): (\d+)$/);
}

/** The client sidecar's admin /stats lines whose name `pattern` matches (group 1: the key, group 2: the value). */
export async function clientStats(mesh: ChaosMesh, pattern: RegExp): Promise<Record<string, number>> {
  const r = await mizzen(['exec', 'deploy/client', '--', 'curl', '-s', 'http://127.0.0.1:15000/stats'], mesh.dir);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const m = pattern.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Whether every pod whose name starts with `podPrefix` is READY n/n in `mizzen get pods`. */
export async function podsReady(mesh: ChaosMesh, podPrefix: string): Promise<boolean> {
  const r = await mizzen(['get', 'pods'], mesh.dir);
  const rows = r.stdout.split('\n').filter((l) => l.startsWith(podPrefix));
  return rows.length > 0 && rows.every((l) => {
    const m = /\s(\d+)\/(\d+)\s+Running/.exec(l);
    return m !== null && m[1] === m[2];
  });
}

/** SIGKILLs every process whose argv `match` accepts (only the runner's own: callers match a path or label of this run). */
export function killMatching(match: (argv: string[]) => boolean): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    if (!match(argvOf(Number(name)))) continue;
    try {
      process.kill(Number(name), 'SIGKILL');
      n++;
    } catch {
      // gone
    }
  }
  return n;
}
