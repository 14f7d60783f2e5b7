/**
 * Control-plane convergence, like Istio's pilot-load: `mizzen discovery` on a mesh of M services
 * (E endpoints each), a simulator process holding N ADS streams; the time from a VirtualService
 * edit (and from an endpoint-only edit) until every proxy has received and ACKed the new version.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface, type Interface } from 'node:readline';
import { writeMesh, virtualService, workloadEntry, type MeshShape } from './mesh-config-files.ts';
import { cpuSeconds, rssMb } from '../dataplane/process-stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

export interface ControlplaneRow {
  proxies: number;
  /** How the simulated proxies subscribe to EDS and RDS: by name as Envoy, or wildcard (empty names). */
  subscribe: 'named' | 'wildcard';
  /** ADS streams per HTTP/2 connection of the simulator. */
  streams_per_connection: number;
  services: number;
  endpoints: number;
  change: 'virtualservice' | 'endpoint';
  converged: number;
  convergence_p50_ms: number;
  convergence_p99_ms: number;
  initial_sync_s: number;
  discovery_rss_mb: number;
  discovery_cpu_s: number;
  /** Load average (1 min) when the change was made: other work on the machine. */
  load_average: number;
  /** Responses of each type the simulator received during the measurement (all proxies). */
  responses: Record<string, number>;
  /** Resources per response of the measured type (min, max). */
  resources_per_response: [number, number];
  /** Streams the server closed that the simulator re-opened since it started (0 when none). */
  reopened: number;
  /** The simulator's user+system seconds since it started (it shares the cores with discovery). */
  simulator_cpu_s: number;
  /** CPU seconds of discovery and of the simulator from writing the change to the report (convergence + 1 s). */
  change_discovery_cpu_s: number;
  change_simulator_cpu_s: number;
  /**
   * Discovery's own time to last byte: from the change to the last response of the measured type
   * handed to the socket (its mizzen_xds_push_last_write_seconds), apart from the simulator's
   * receive time (convergence_p99_ms includes the simulator reading and ACKing).
   */
  discovery_last_write_ms: number;
}

async function lastWriteMs(httpPort: number, type: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text()).catch(() => '');
  const m = new RegExp(`^mizzen_xds_push_last_write_seconds\\{type="${type}"\\} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : NaN;
}

function lines(child: ChildProcess): Interface {
  return createInterface({ input: child.stdout! });
}

/** The first line of `rl` matching `predicate`, or an error naming `what` after `timeoutMs`. */
export function waitForLine(rl: Interface, predicate: (l: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      rl.off('line', onLine);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const onLine = (l: string): void => {
      if (!predicate(l)) return;
      clearTimeout(timer);
      rl.off('line', onLine);
      resolve(l);
    };
    rl.on('line', onLine);
  });
}

/** A loopback port free at the time of asking. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function runControlplaneBench(options: {
  proxies: number[];
  shape: MeshShape;
  log: (l: string) => void;
  /** Write V8 CPU profiles of discovery and of the simulator (one each per run) into this directory. */
  cpuProfDir?: string;
  /** Extra Node flags for the discovery process (e.g. --trace-gc) and a file for its stdout. */
  discoveryNodeArgs?: string[];
  discoveryStdout?: string;
  /** The mizzen entry point to run discovery from (default this checkout's bin/mizzen.js): A/B against another tree. */
  discoveryBin?: string;
  /** 'named' (Envoy's way, default) or 'wildcard'. */
  subscribe?: 'named' | 'wildcard';
  /** ADS streams per simulator connection (default 100). */
  streamsPerConnection?: number;
  /** How many times each of the two edits is made, alternating (default 1): more samples per sync. */
  edits?: number;
}): Promise<ControlplaneRow[]> {
  const rows: ControlplaneRow[] = [];
  const subscribe = options.subscribe ?? 'named';
  const perConnection = options.streamsPerConnection ?? 100;
  for (const n of options.proxies) {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-cp-bench-'));
    writeMesh(dir, options.shape);
    const grpcPort = await freePort();
    const httpPort = await freePort();
    const discovery = spawn(
      process.execPath,
      [
        ...(options.discoveryNodeArgs ?? []),
        ...(options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir, '--cpu-prof-name', `discovery-${n}-${Date.now()}.cpuprofile`] : []),
        options.discoveryBin ?? join(repo, 'bin/mizzen.js'),
        'discovery', '--config', dir, '--grpc-addr', `127.0.0.1:${grpcPort}`, '--http-addr', `127.0.0.1:${httpPort}`, '--secure-grpc-addr', ''],
      { stdio: ['ignore', options.discoveryStdout ? openSync(options.discoveryStdout, 'a') : 'ignore', 'pipe'], env: { ...process.env, MIZZEN_LOG: process.env.MIZZEN_BENCH_DISCOVERY_LOG ?? 'warn' } },
    );
    let discoveryErr = '';
    discovery.stderr!.on('data', (d: Buffer) => void (discoveryErr = (discoveryErr + d.toString()).slice(-2000)));
    let sim: ChildProcess | undefined;
    try {
      await waitForReady(httpPort, discovery, () => discoveryErr);
      const cpu0 = cpuSeconds(discovery.pid!);
      const t0 = performance.now();
      sim = spawn(
        process.execPath,
        ['--max-old-space-size=8192',
          ...(options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir, '--cpu-prof-name', `simulator-${n}-${Date.now()}.cpuprofile`] : []),
          join(here, 'ads-simulator.ts'), JSON.stringify({ address: `127.0.0.1:${grpcPort}`, proxies: n, channels: Math.max(1, Math.ceil(n / perConnection)), namespace: options.shape.namespace, subscribe })],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const rl = lines(sim);
      // 10 minutes, plus 0.1 s per proxy beyond 1,000 (10,000 proxies on a loaded 2-core machine need more).
      const syncLine = await waitForLine(rl, (l) => l.startsWith('synced'), 600_000 + Math.max(0, n - 1000) * 100, `${n} proxies to sync`);
      const initialSync = (performance.now() - t0) / 1000;
      const syncBytes = (JSON.parse(syncLine.slice('synced'.length)) as { bytes: Record<string, number> }).bytes;
      const perProxy = Object.entries(syncBytes).map(([t, b]) => `${t} ${(b / n / 1024).toFixed(0)} KB`).join(', ');
      options.log(`  ${n} proxies (${subscribe}, ${perConnection} streams per connection) synced in ${initialSync.toFixed(1)} s (per proxy: ${perProxy}); discovery rss ${Math.round(rssMb(discovery.pid!))} MB`);
      const changes: [ControlplaneRow['change'], 'rds' | 'eds', () => void][] = [];
      for (let i = 0; i < (options.edits ?? 1); i++) {
        // Alternate away from the written mesh (weight 90, address n = 1) and back.
        changes.push(
          ['virtualservice', 'rds', () => writeFileSync(join(dir, 'virtual-service.yaml'), virtualService(options.shape, i % 2 === 0 ? 50 : 90))],
          ['endpoint', 'eds', () => writeFileSync(join(dir, 'workload-entry.yaml'), workloadEntry(options.shape, i % 2 === 0 ? 2 : 1))],
        );
      }
      for (const [change, type, apply] of changes) {
        sim.stdin!.write(`watch ${type}\n`);
        await waitForLine(rl, (l) => l === 'watching', 10_000, 'the simulator to arm');
        const load = loadavg()[0]!;
        options.log(`  ${new Date().toISOString()} ${change} change written`);
        const dc0 = cpuSeconds(discovery.pid!);
        const sc0 = cpuSeconds(sim.pid!);
        apply();
        const line = await waitForLine(rl, (l) => l.startsWith('{'), 120_000, `${change} convergence`);
        const r = JSON.parse(line) as { converged: number; p50_ms: number; p99_ms: number; responses: Record<string, number>; resources_per_response: [number, number]; reopened?: number };
        const row: ControlplaneRow = {
          proxies: n,
          subscribe,
          streams_per_connection: perConnection,
          services: options.shape.services,
          endpoints: options.shape.services * options.shape.endpointsPerService,
          change,
          converged: r.converged,
          convergence_p50_ms: Math.round(r.p50_ms),
          convergence_p99_ms: Math.round(r.p99_ms),
          initial_sync_s: Number(initialSync.toFixed(2)),
          discovery_rss_mb: Math.round(rssMb(discovery.pid!)),
          discovery_cpu_s: Number((cpuSeconds(discovery.pid!) - cpu0).toFixed(2)),
          load_average: Number(load.toFixed(1)),
          responses: r.responses,
          resources_per_response: r.resources_per_response,
          reopened: r.reopened ?? 0,
          simulator_cpu_s: Number(cpuSeconds(sim.pid!).toFixed(2)),
          change_discovery_cpu_s: Number((cpuSeconds(discovery.pid!) - dc0).toFixed(2)),
          change_simulator_cpu_s: Number((cpuSeconds(sim.pid!) - sc0).toFixed(2)),
          discovery_last_write_ms: await lastWriteMs(httpPort, type),
        };
        rows.push(row);
        options.log(
          `  ${String(n).padStart(6)} proxies, ${change.padEnd(14)} converged ${row.converged}/${n}  p50 ${row.convergence_p50_ms} ms  p99 ${row.convergence_p99_ms} ms  (discovery's last byte written at ${row.discovery_last_write_ms} ms)  ` +
            `discovery rss ${row.discovery_rss_mb} MB, cpu ${row.discovery_cpu_s} s (since the simulator started; simulator ${row.simulator_cpu_s} s); this change: discovery ${row.change_discovery_cpu_s} s, simulator ${row.change_simulator_cpu_s} s; load ${row.load_average}; ` +
            `responses ${JSON.stringify(row.responses)}, ${row.resources_per_response.join('..')} resources each` + (row.reopened ? `; ${row.reopened} streams re-opened` : ''),
        );
      }
      sim.stdin!.write('exit\n');
      // Let it exit by itself (a --cpu-prof profile is written on exit); killed below otherwise.
      const exited = sim;
      await new Promise((r) => {
        if (exited.exitCode !== null) return r(null);
        const t = setTimeout(r, 10_000);
        exited.once('exit', () => r(clearTimeout(t)));
      });
    } finally {
      sim?.kill('SIGKILL');
      discovery.kill('SIGTERM');
      await new Promise((r) => (discovery.exitCode !== null ? r(null) : discovery.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

async function waitForReady(httpPort: number, child: ChildProcess, err: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`discovery exited: ${err()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`discovery not ready in 60 s: ${err()}`);
}
