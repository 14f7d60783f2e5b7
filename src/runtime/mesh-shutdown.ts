import { ControlClient } from './control-client.ts';
import { processRunning } from './process-identity.ts';
import { readMeshState, removeMeshLeftovers } from './runtime-state.ts';
import { meshRunning, removeStateDir } from './state-claim.ts';

export interface ShutdownResult {
  /** The mesh the state named, if any. */
  prefix: string | undefined;
  /** Whether its process was still running (and was stopped). */
  wasRunning: boolean;
  /** What was left over and removed here (namespaces, ...), beyond the mesh's own cleanup. */
  removed: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `mizzen down`: stop the mesh a state directory names and remove everything its state says it
 * made, whatever happened to it — a running mesh is asked to stop (control API), then
 * signalled if it does not answer; a crashed or half-started one is cleaned up from its state.
 */
export async function shutdownMesh(stateDir: string, options: { graceMs?: number } = {}): Promise<ShutdownResult> {
  const state = readMeshState(stateDir);
  if (!state) {
    removeStateDir(stateDir);
    return { prefix: undefined, wasRunning: false, removed: [] };
  }
  const id = { pid: state.pid, startTime: state.startTime };
  const wasRunning = meshRunning(state);
  if (wasRunning) {
    const asked = await Promise.race([new ControlClient(stateDir).post('/shutdown', {}).then(() => true, () => false), sleep(5000).then(() => false)]);
    // No control API (a half-started or stuck mesh): SIGTERM makes it clean up as on Ctrl-C.
    if (!asked) signal(state.pid, 'SIGTERM');
    const deadline = Date.now() + (options.graceMs ?? 30_000);
    while (processRunning(id) && Date.now() < deadline) await sleep(100);
    if (processRunning(id)) signal(state.pid, 'SIGKILL');
    for (let i = 0; i < 100 && processRunning(id); i++) await sleep(50);
  }
  // Whatever the mesh process did or did not clean up, remove the rest.
  const removed = await removeMeshLeftovers(state.prefix, [state.podCidr, state.serviceCidr]);
  removeStateDir(stateDir);
  return { prefix: state.prefix, wasRunning, removed };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}
