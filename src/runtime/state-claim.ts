import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MizzenError } from '../lib/errors.ts';
import { processRunning } from './process-identity.ts';
import { readMeshState, removeMeshLeftovers, STATE_FILE, type MeshState } from './runtime-state.ts';

/**
 * One mesh per state directory. `mizzen up` claims the directory by creating state.json
 * exclusively (a link of a written temporary file), so two starts cannot both win; a state whose
 * process is gone (a crashed mesh) is taken over after removing what that mesh left behind.
 */

/** Whether the mesh process a state names still runs (pid and start time). */
export function meshRunning(state: MeshState): boolean {
  return processRunning({ pid: state.pid, startTime: state.startTime });
}

/** The refusal of a second start: nothing of the running mesh is touched. */
export function alreadyRunningError(stateDir: string, state: MeshState): MizzenError {
  return new MizzenError('RUNTIME_ALREADY_RUNNING', `a mesh is already running from ${stateDir} (mesh ${state.prefix}, pid ${state.pid}, started ${state.startedAt})`, {
    hint: 'see it with `mizzen get pods`; `mizzen down` removes it; or start another one with --state-dir DIR and other --pod-cidr/--service-cidr and ports',
  });
}

/**
 * Claim `stateDir` for `state`: refuse when a mesh runs from it, clean up after a crashed one.
 * Returns what was removed of a crashed mesh (empty when there was none).
 */
export async function claimStateDir(stateDir: string, state: MeshState): Promise<string[]> {
  mkdirSync(stateDir, { recursive: true });
  const cleaned: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const tmp = join(stateDir, `.${STATE_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
    try {
      linkSync(tmp, join(stateDir, STATE_FILE));
      // Traversable (sidecars read their own files), not listable; only once the directory is ours.
      chmodSync(stateDir, 0o711);
      return cleaned;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
    const previous = readMeshState(stateDir);
    if (previous && meshRunning(previous)) throw alreadyRunningError(stateDir, previous);
    // A crashed (or half-started) mesh: take its state file away first (one taker wins), then its leftovers.
    const stale = join(stateDir, `.${STATE_FILE}.stale.${process.pid}`);
    try {
      renameSync(join(stateDir, STATE_FILE), stale);
    } catch {
      continue; // another start took it over in between: look again
    }
    unlinkSync(stale);
    if (previous) {
      const removed = await removeMeshLeftovers(previous.prefix, [previous.podCidr, previous.serviceCidr]);
      cleaned.push(`mesh ${previous.prefix} (pid ${previous.pid}) is no longer running; removed what it left: ${removed.length > 0 ? removed.join(', ') : 'its guard routes and files'}`);
    } else cleaned.push(`removed an unreadable ${STATE_FILE}`);
  }
  throw new MizzenError('RUNTIME_FAILED', `cannot claim ${stateDir}: other starts keep changing it`);
}

/** Whether `stateDir` holds the state of this mesh (same prefix and process). */
export function ownsStateDir(stateDir: string, prefix: string): boolean {
  const s = readMeshState(stateDir);
  return s !== undefined && s.prefix === prefix && s.pid === process.pid;
}

/**
 * Remove a state directory's content. Only a directory that holds (or held) a mesh state is
 * emptied; `keep` names entries to leave (a detached start's up.log, still being read).
 */
export function removeStateDir(stateDir: string, keep: readonly string[] = []): void {
  if (!existsSync(stateDir)) return;
  const names = readdirSync(stateDir);
  const isState = names.includes(STATE_FILE);
  for (const name of names) {
    if (keep.includes(name)) continue;
    // Without a state file this may be any directory given as --state-dir: only our own names go.
    if (!isState && !STATE_ENTRIES.includes(name)) continue;
    rmSync(join(stateDir, name), { recursive: true, force: true });
  }
  if (readdirSync(stateDir).length === 0) rmSync(stateDir, { recursive: true, force: true });
}

/** What `mizzen up` writes into a state directory. */
export const STATE_ENTRIES: readonly string[] = [STATE_FILE, 'up.log', 'config', 'logs', 'ca', 'pods', 'control.sock', 'discovery.sock', 'node-agent.sock', 'addons'];
