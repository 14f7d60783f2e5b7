import { readdir, readlink, rm, stat } from 'node:fs/promises';
import { runHostCommand } from './host-command.ts';

/**
 * Network namespaces through iproute2 (`ip netns`), so that `ip netns exec NAME` finds them and
 * bind-mounts /etc/netns/NAME/* over /etc for the processes it starts.
 */
export async function createNetns(name: string): Promise<void> {
  await runHostCommand('ip', ['netns', 'add', name]);
  await runHostCommand('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/**
 * Delete a namespace and its /etc/netns directory; absent ones are fine. Processes still living
 * in it are killed first (a pod's containers are stopped before; what remains is what they left
 * behind or what `mizzen exec` started and its caller abandoned), as stopping a container kills
 * every process in its cgroup: otherwise they keep running, and keep the namespace alive, with no
 * name left to find them by.
 */
export async function deleteNetns(name: string): Promise<void> {
  await killProcessesInNetns(name);
  await runHostCommand('ip', ['netns', 'delete', name], { allowFailure: true });
  await rm(`/etc/netns/${name}`, { recursive: true, force: true });
}

export async function listNetns(): Promise<string[]> {
  const r = await runHostCommand('ip', ['netns', 'list'], { allowFailure: true });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => Boolean(n));
}

/** Run a command inside a namespace (`ip netns exec NAME ...`). */
export function runInNetns(name: string, cmd: string, args: readonly string[], options: { input?: string; allowFailure?: boolean } = {}) {
  return runHostCommand('ip', ['netns', 'exec', name, cmd, ...args], options);
}

/** argv that runs `cmd args` inside the namespace, for spawning long-lived processes. */
export function netnsExecArgv(name: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', name, ...argv];
}

/** argv that runs `argv` as uid/gid (no supplementary groups), through setpriv. */
export function asUserArgv(uid: number, gid: number, argv: readonly string[]): string[] {
  if (uid === 0 && gid === 0) return [...argv];
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...argv];
}

/**
 * SIGKILL every process all of whose threads are in the named namespace; returns their pids. A
 * process with any thread elsewhere is left alone: a node's ztunnel enters pods' namespaces with
 * one thread for a moment (setns) while its other threads stay in the node's.
 */
export async function killProcessesInNetns(name: string): Promise<number[]> {
  const ino = await stat(`/run/netns/${name}`).then((st) => st.ino, () => undefined);
  if (ino === undefined) return [];
  const target = `net:[${ino}]`;
  const killed: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if ((await readlink(`/proc/${pid}/ns/net`).catch(() => undefined)) !== target) continue;
    const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    const links = await Promise.all(tasks.map((t) => readlink(`/proc/${pid}/task/${t}/ns/net`).catch(() => target)));
    if (links.some((l) => l !== target)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}
