import { rm } from 'node:fs/promises';
import { runHostCommand } from './host-command.ts';

/**
 * Network namespaces through iproute2 (`ip netns`), so that `ip netns exec NAME` finds them and
 * bind-mounts /etc/netns/NAME/* over /etc for the processes it starts.
 */
export async function createNetns(name: string): Promise<void> {
  await runHostCommand('ip', ['netns', 'add', name]);
  await runHostCommand('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Delete a namespace and its /etc/netns directory; absent ones are fine. */
export async function deleteNetns(name: string): Promise<void> {
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
