/**
 * Where the data-plane benchmark's processes run on this 2-vCPU machine (`taskset`).
 *
 * - `per-pod` (default): the client pod (load generator + client sidecar or client-side relay) on
 *   CPU 1, the server pod (backend + server sidecar or server-side relay) on CPU 0 — Istio's
 *   method puts the client and the server pod on different nodes, so the two sidecars never
 *   queue behind each other, while each sidecar shares its node with its own application.
 * - `shared`: every proxy and the backend on CPU 0, the load generator alone on CPU 1 (the
 *   pinning of the earlier runs: the load generator kept away from the proxies).
 *
 * - `unpinned`: every process may run on both CPUs (as on a kind node, where the Istio
 *   figures were taken): a multi-threaded proxy (Istio's ztunnel, 2 tokio workers) can run its
 *   threads in parallel, which the two pinnings above prevent (taskset -a moves every thread).
 *
 * Discovery (control plane, idle during the measurement) stays on CPU 0 in all of them.
 */
import { execFileSync } from 'node:child_process';
import type { Started } from './spawn-in-netns.ts';

export interface Pinning {
  name: 'per-pod' | 'shared' | 'unpinned';
  /** CPU list (taskset -c) for the client pod's proxy. */
  client: string;
  /** CPU list for the server pod's proxy and the backend. */
  server: string;
  /** CPU list for the load generator (client pod). */
  loadgen: string;
}

export const PINNINGS: Record<Pinning['name'], Pinning> = {
  'per-pod': { name: 'per-pod', client: '1', server: '0', loadgen: '1' },
  shared: { name: 'shared', client: '0', server: '0', loadgen: '1' },
  unpinned: { name: 'unpinned', client: '0-1', server: '0-1', loadgen: '0-1' },
};

export function pinningsFrom(list: string): Pinning[] {
  return list.split(',').map((n) => {
    const p = PINNINGS[n as Pinning['name']];
    if (!p) throw new Error(`unknown pinning ${n} (known: ${Object.keys(PINNINGS).join(', ')})`);
    return p;
  });
}

/** Move running processes (every thread: taskset -a) to the pinning's CPUs. */
export function applyPinning(pin: Pinning, backend: Started | undefined, proxies: Started[], pods: ('client' | 'server')[]): void {
  const move = (pid: number, cpus: string): void => void execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  if (backend) move(backend.pid, pin.server);
  proxies.forEach((p, i) => move(p.pid, pods[i] === 'client' ? pin.client : pin.server));
}
