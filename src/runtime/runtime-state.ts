import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GuardRoutes } from './guard-routes.ts';
import { runHostCommand } from './host-command.ts';
import { deleteNetns, listNetns } from './netns.ts';

/** What a running mesh records in its state directory, so `mizzen down` can undo it all. */
export interface MeshState {
  prefix: string;
  pid: number;
  /** The mesh process's start time (/proc/PID/stat), so a reused pid is not taken for it. */
  startTime?: string;
  podCidr: string;
  serviceCidr: string;
  startedAt: string;
  manifests: string;
  exposes: string[];
}

export const STATE_FILE = 'state.json';

/** Per-mesh files processes of other users (sidecars, uid 1337) read: /run/mizzen/PREFIX. */
export const RUN_DIR = '/run/mizzen';

export function meshRunDir(prefix: string): string {
  return join(RUN_DIR, prefix);
}

/** A pod's files for its sidecar (token, root cert): /run/mizzen/PREFIX/pods/NS_NAME. */
export function podRunDir(prefix: string, namespace: string, name: string): string {
  return join(meshRunDir(prefix), 'pods', `${namespace}_${name}`);
}

/**
 * Make a pod's run directory, traversable (0755 down from /run/mizzen) by uid 1337 whatever the
 * state directory's parents allow (a 0700 home, a mkdtemp directory), and the mesh's stage where
 * processes of other users get their view of closed directories built (path-view.ts, 0700).
 */
export function makePodRunDirs(prefix: string, namespace: string, name: string): { podDir: string; pathViewStage: string } {
  const podDir = podRunDir(prefix, namespace, name);
  mkdirSync(podDir, { recursive: true });
  for (const d of [RUN_DIR, meshRunDir(prefix), dirname(podDir), podDir]) chmodSync(d, 0o755);
  const pathViewStage = join(meshRunDir(prefix), 'stage');
  mkdirSync(pathViewStage, { recursive: true, mode: 0o700 });
  return { podDir, pathViewStage };
}

export function readMeshState(stateDir: string): MeshState | undefined {
  const file = join(stateDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as MeshState;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove everything a mesh with this prefix left behind, whether or not its process is alive:
 * every process inside its namespaces (SIGKILL), the namespaces and their /etc/netns files
 * (veths and nft tables go with them), its hold on the guard routes.
 */
export async function removeMeshLeftovers(prefix: string, cidrs: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  const mine = (await listNetns()).filter((n) => n.startsWith(`${prefix}-`));
  for (const ns of mine) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await runHostCommand('ip', ['netns', 'pids', ns], { allowFailure: true });
      const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await deleteNetns(ns);
    removed.push(`netns ${ns}`);
  }
  const etc = await runHostCommand('sh', ['-c', `ls -d /etc/netns/${prefix}-* 2>/dev/null || true`], { allowFailure: true });
  for (const dir of etc.stdout.split('\n').filter(Boolean)) rmSync(dir, { recursive: true, force: true });
  rmSync(meshRunDir(prefix), { recursive: true, force: true });
  await new GuardRoutes({ cidrs, owner: prefix }).release();
  return removed;
}
