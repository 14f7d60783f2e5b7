import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MizzenError } from '../lib/errors.ts';
import { currentProcessIdentity, processRunning } from '../runtime/process-identity.ts';
import { removeMeshLeftovers } from '../runtime/runtime-state.ts';
import { removeNodeLinkLeftovers } from './node-network.ts';

/** What a running `mizzen node` records in its state directory (to clean up after a crash). */
export interface NodeState {
  name: string;
  prefix: string;
  pid: number;
  startTime?: string;
  server: string;
}

export const NODE_STATE_FILE = 'node.json';

export function readNodeState(dir: string): NodeState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, NODE_STATE_FILE), 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

/**
 * Claim a node's state directory: refuse when a node runs from it; remove what a crashed one
 * left (its namespaces and their processes, its veth and forwarding rules, /run/mizzen files).
 * Returns what was cleaned up.
 */
export async function claimNodeState(dir: string, state: Omit<NodeState, 'pid' | 'startTime'>): Promise<string[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const previous = readNodeState(dir);
  const cleaned: string[] = [];
  if (previous) {
    if (processRunning({ pid: previous.pid, startTime: previous.startTime })) {
      throw new MizzenError('RUNTIME_ALREADY_RUNNING', `a node (${previous.name}, pid ${previous.pid}) already runs from ${dir}`, { hint: 'stop it first, or give this node another --state-dir' });
    }
    const removed = await removeMeshLeftovers(previous.prefix, []);
    await removeNodeLinkLeftovers(previous.prefix);
    cleaned.push(`node ${previous.name} (pid ${previous.pid}) is no longer running; removed what it left: ${removed.length > 0 ? removed.join(', ') : 'its links and files'}`);
  }
  const me = currentProcessIdentity();
  writeFileSync(join(dir, NODE_STATE_FILE), `${JSON.stringify({ ...state, pid: me.pid, startTime: me.startTime }, null, 2)}\n`);
  return cleaned;
}

export function releaseNodeState(dir: string): void {
  if (existsSync(join(dir, NODE_STATE_FILE))) rmSync(join(dir, NODE_STATE_FILE), { force: true });
}
