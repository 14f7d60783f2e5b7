import { spawn } from 'node:child_process';
import { mkdtempSync, existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../src/lib/clock.ts';
import { LocalMesh, type LocalMeshOptions } from '../../src/runtime/local-mesh.ts';
import { listNetns } from '../../src/runtime/netns.ts';
import { baseProcessEnv } from '../../src/runtime/runtime-config.ts';
import { processAlive } from '../../src/runtime/runtime-state.ts';
import { DEFAULT_GUARD_DIR, hasGuardRoute, readGuardHolders } from '../../src/runtime/guard-routes.ts';
import { processRunning } from '../../src/runtime/process-identity.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';

/**
 * Why a network-namespace test cannot run here (not Linux, not root, no nft), or false when it
 * can. CI runs as root, so these tests run there.
 */
export async function rootSkipReason(): Promise<string | false> {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nft)';
  for (const tool of ['ip', 'nft', 'setpriv']) {
    const r = await runHostCommand('sh', ['-c', `command -v ${tool}`], { allowFailure: true });
    if (r.code !== 0) return `needs ${tool} (apt-get install iproute2 nftables util-linux)`;
  }
  return false;
}


export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_ENTRY = join(REPO, 'bin/mizzen.js');

/** A fresh temporary directory for one test's manifests and state. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `mizzen-${tag}-`));
}

/** A LocalMesh for tests: no control plane, fast backoff, state under `dir`. */
export function testMesh(dir: string, manifests: string, overrides: Partial<LocalMeshOptions> = {}): LocalMesh {
  const env = baseProcessEnv(process.env);
  env.PATH = `${join(process.execPath, '..')}:${env.PATH}`;
  return new LocalMesh({
    stateDir: join(dir, 'state'),
    manifests,
    exposes: [],
    podCidr: '10.244.0.0/16',
    serviceCidr: '10.96.0.0/16',
    clock: systemClock,
    nodeBinary: process.execPath,
    cliEntry: CLI_ENTRY,
    controlPlane: false,
    backoff: { initialMs: 200, maxMs: 1000, resetAfterMs: 60_000 },
    baseEnv: env,
    ...overrides,
  });
}

/** Poll `check` until it returns a truthy value (or throw after `timeoutMs`). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * What a mesh with this prefix may have left behind (empty when teardown was complete). Guard
 * routes are compared per CIDR: the route of each of the mesh's CIDRs must be gone unless a live
 * holder (another mesh or test run) still holds that CIDR.
 */
export async function leftovers(prefix: string, pids: readonly number[], cidrs: readonly string[] = ['10.244.0.0/16', '10.96.0.0/16']): Promise<string[]> {
  const out: string[] = [];
  for (const ns of await listNetns()) if (ns.startsWith(`${prefix}-`)) out.push(`netns ${ns}`);
  if (existsSync('/etc/netns')) for (const d of readdirSync('/etc/netns')) if (d.startsWith(`${prefix}-`)) out.push(`/etc/netns/${d}`);
  for (const pid of pids) if (processAlive(pid)) out.push(`process ${pid}`);
  if (existsSync(join(DEFAULT_GUARD_DIR, `${prefix}.holder`))) out.push(`guard holder ${prefix}`);
  if (existsSync(join('/run/mizzen', prefix))) out.push(`/run/mizzen/${prefix}`);
  // Read without the guard lock: a mesh of another test file that is being taken down right now
  // has dropped its holder and not yet its route (or is adding both). Only a route that stays
  // without a live holder for 10 s is a leftover.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const orphaned = await orphanedGuardRoutes(cidrs);
    if (orphaned.length === 0 || Date.now() > deadline) return [...out, ...orphaned];
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function orphanedGuardRoutes(cidrs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const live = (await readGuardHolders()).filter((h) => processRunning(h.process));
  for (const cidr of cidrs) {
    if (!(await hasGuardRoute(cidr))) continue;
    if (!live.some((h) => h.cidrs.includes(cidr))) out.push(`route unreachable ${cidr} (no live holder)`);
  }
  return out;
}

/** Runs the `mizzen` CLI as a user would, in `cwd`; resolves with its exit code and output. */
export function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** A loopback port free at the time of asking. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
