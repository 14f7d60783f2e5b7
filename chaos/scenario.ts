/**
 * What a chaos scenario is and reports: one row of RELIABILITY.md's table. A scenario gets a
 * context (its own mesh directory, the load to apply, a log) and returns its figures; the runner
 * brings each scenario's mesh up and always takes it down.
 */
import { loadavg } from 'node:os';
import { FortioLoad, type LoadResult } from './fortio-load.ts';
import type { ChaosMesh } from './chaos-mesh.ts';

export interface ScenarioContext {
  mesh: ChaosMesh;
  qps: number;
  connections: number;
  /** Shorter phases (the smoke test and quick runs); figures from quick runs are not recorded. */
  quick: boolean;
  /** fortio's `-labels` for this run (cleanup finds fortio by it). */
  label: string;
  log: (line: string) => void;
  /** Idle connections for the idle-connections scenario (default 10,000). */
  idleConnections?: number;
  /** Loads started, so the runner can stop them on failure. */
  loads: FortioLoad[];
}

export interface ScenarioResult {
  scenario: string;
  load: string;
  sent: number;
  failed: number;
  p99Ms: number;
  /** What recovered and how long it took, in words with the figure. */
  recovery: string;
  recoveryMs: number | undefined;
  nothingLost: boolean;
  /** When the scenario expects zero failures: whether it got them. */
  expectation: string;
  passed: boolean;
  notes: string[];
  loadAverage: string;
}

export interface Scenario {
  name: string;
  title: string;
  /** Manifests of its mesh (YAML documents), written to the mesh directory before `mizzen up`. */
  manifests: (ctx: { quick: boolean }) => string;
  /** Before `mizzen up`: files its mesh starts with (e.g. a plug-in CA in STATE/ca). */
  prepare?: (stateDir: string) => void;
  run: (ctx: ScenarioContext) => Promise<ScenarioResult>;
}

export const loadAverage = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it returns a value; throws after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

/** Starts fortio in the client pod against the server service at the context's rate. */
export function startLoad(ctx: ScenarioContext, seconds: number, path = '/echo'): FortioLoad {
  const load = new FortioLoad(ctx.mesh.dir, { qps: ctx.qps, connections: ctx.connections, seconds, url: `http://server:8080${path}`, label: ctx.label });
  ctx.loads.push(load);
  return load;
}

export const loadText = (ctx: ScenarioContext, seconds: number, achieved?: number): string =>
  `${ctx.qps} rps${achieved !== undefined ? ` (${Math.round(achieved)} achieved)` : ''} × ${seconds} s, ${ctx.connections} conns`;

/** Failures fortio logged at or after `fromMs`: how many and the last one's time. */
export function failuresAfter(r: LoadResult, fromMs: number): { count: number; lastMs: number | undefined } {
  const after = r.failureTimes.filter((t) => t >= fromMs - 50);
  return { count: after.length, lastMs: after.length > 0 ? Math.max(...after) : undefined };
}

/** SIGSTOPs discovery for `forSeconds`, SIGCONTs it whatever happens; when it froze and resumed. */
export async function freezeDiscovery(ctx: ScenarioContext, forSeconds: number): Promise<{ pid: number; frozenAt: number; resumedAt: number }> {
  const pid = ctx.mesh.discoveryPid();
  if (!pid) throw new Error('discovery is not running');
  const frozenAt = Date.now();
  process.kill(pid, 'SIGSTOP');
  ctx.log(`  discovery (pid ${pid}) SIGSTOPped for ${forSeconds} s`);
  try {
    await sleep(forSeconds * 1000);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  return { pid, frozenAt, resumedAt: Date.now() };
}

export const seconds = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/** A row from a load result and a recovery. */
export function row(ctx: ScenarioContext, o: { scenario: string; seconds: number; r: LoadResult; recovery: string; recoveryMs: number | undefined; nothingLost: boolean; expectZero: boolean; notes: string[] }): ScenarioResult {
  // a scenario that may fail requests must have recovered: its failures stopped well before the load ended
  const lastFailure = o.r.failureTimes.length > 0 ? Math.max(...o.r.failureTimes) : 0;
  const recovered = lastFailure < o.r.startedAt + (o.seconds - 5) * 1000;
  const passed = o.expectZero ? o.r.failed === 0 && o.nothingLost : recovered;
  return {
    scenario: o.scenario,
    load: loadText(ctx, o.seconds, o.r.qps),
    sent: o.r.sent,
    failed: o.r.failed,
    p99Ms: Math.round(o.r.p99Ms * 10) / 10,
    recovery: o.recovery,
    recoveryMs: o.recoveryMs,
    nothingLost: o.nothingLost,
    expectation: o.expectZero ? '0 failed' : 'recovers on its own (failures stop 5 s before the load ends)',
    passed,
    notes: [`fortio: ${o.r.qps.toFixed(0)} qps achieved, codes ${JSON.stringify(o.r.codes)}, ${o.r.sockets} sockets opened${Object.keys(o.r.logged).length > 0 ? `, logged ${JSON.stringify(o.r.logged)}` : ''}`, ...o.notes],
    loadAverage: loadAverage(),
  };
}
