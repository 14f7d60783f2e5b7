/**
 * Data-plane benchmark, Istio's method: client pod → server pod (network namespaces), HTTP/1.1,
 * 1 KB payload, 4 connections, fixed request rates, latency histograms that are
 * coordinated-omission correct. Every mode runs in the same session against the same backend, so
 * the figures are read as differences from `direct` and from the byte-relay floor.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadavg } from 'node:os';
import { createNetnsPair, type NetnsPair } from './netns-pair.ts';
import { spawnInNetns, runInNetns, type Started } from './spawn-in-netns.ts';
import { applyPinning, PINNINGS, type Pinning } from './pinning.ts';
import { cpuSeconds, memoryMb, rssMb } from './process-stats.ts';
import { fortioServerArgv, runFortio } from './fortio-load.ts';

const here = dirname(fileURLToPath(import.meta.url));
const node = process.execPath;

/**
 * Which client measured a row: the Node generator (load-generator.ts → Node backend) or fortio
 * (fortio load → fortio server); `fortio-uniform` is fortio with `-uniform` (the C connections'
 * schedules staggered instead of all firing at the same instant), to show what the bursts cost.
 */
export type Loadgen = 'node' | 'fortio' | 'fortio-uniform';

export interface DataplaneRow {
  mode: string;
  loadgen: Loadgen;
  /** Repetition index (0-based) of this mode × pinning × load generator in the run. */
  run: number;
  /** Where the processes ran: "per-pod" (client pod on CPU 1, server pod on CPU 0) or "shared" (proxies and backend on CPU 0, load generator on CPU 1). */
  pinning: string;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  achieved_rps: number;
  errors: number;
  /** CPU of the proxies in the path (each), vCPU per 1,000 rps; 0 for direct. */
  cpu_vcpu_per_1000rps: number;
  /** RSS of each proxy in the path (max), MB; 0 for direct. */
  rss_mb: number;
  /** Anonymous (private) part of that proxy's RSS and its PSS, MB (RSS also counts the node binary's shared file pages). */
  rss_anon_mb: number;
  pss_mb: number;
  proxies: number;
  /** Per proxy in path order (client side first): vCPU per 1,000 rps and RSS MB. */
  cpu_each: number[];
  rss_each: number[];
  /** 1-minute load average when the measurement ended (the machine is shared). */
  load1: number;
}

export interface Target {
  host: string;
  port: number;
  hostHeader: string;
}

/** The server pod's ports: the Node backend and fortio's echo server. */
export const BACKEND_PORT = 8080;
export const FORTIO_PORT = 8081;

export interface ModeSetup {
  /** Where the Node load generator connects (reaches the Node backend on BACKEND_PORT). */
  target: Target;
  /** Where fortio connects (reaches fortio's server on FORTIO_PORT); modes without it get no fortio rows. */
  fortioTarget?: Target;
  /** The proxies in the path, client side first. */
  proxies: Started[];
  /** For each proxy, the pod it belongs to (pinning). */
  proxyPods: ('client' | 'server')[];
  stop(): Promise<void>;
}

export interface Mode {
  name: string;
  /** Why this mode cannot run here (an optional third-party part is missing), or false. */
  skipReason?(): string | false;
  setup(pair: NetnsPair, backendPort: number): Promise<ModeSetup>;
}

export const directMode: Mode = {
  name: 'direct',
  async setup(pair, backendPort) {
    return {
      target: { host: pair.serverIp, port: backendPort, hostHeader: 'server' },
      fortioTarget: { host: pair.serverIp, port: FORTIO_PORT, hostHeader: 'server' },
      proxies: [],
      proxyPods: [],
      stop: async () => undefined,
    };
  },
};

export const relayFloorMode: Mode = {
  name: 'relay-floor',
  async setup(pair, backendPort) {
    const relay = join(here, 'byte-relay.ts');
    // one relay process per pod, two listeners each: the Node backend's path and fortio's
    const inbound = await spawnInNetns(pair.server, [node, relay, '15006', '127.0.0.1', String(backendPort), '0.0.0.0', '+', '15007', '127.0.0.1', String(FORTIO_PORT), '0.0.0.0'], { cpu: '0' });
    const outbound = await spawnInNetns(pair.client, [node, relay, '15001', pair.serverIp, '15006', '127.0.0.1', '+', '15002', pair.serverIp, '15007', '127.0.0.1'], { cpu: '0' });
    return {
      target: { host: '127.0.0.1', port: 15001, hostHeader: 'server' },
      fortioTarget: { host: '127.0.0.1', port: 15002, hostHeader: 'server' },
      proxies: [outbound, inbound],
      proxyPods: ['client', 'server'],
      stop: async () => void (await Promise.all([outbound.stop(), inbound.stop()])),
    };
  },
};

export interface DataplaneOptions {
  modes: Mode[];
  /** Pinnings to measure each mode under (each mode is set up once and re-pinned); default per-pod then shared. */
  pinnings?: Pinning[];
  /** Per mode, a subset of `pinnings` (e.g. the quick run measures only the main modes under both). */
  pinningsFor?: (mode: string, all: Pinning[]) => Pinning[];
  rates: number[];
  /** Load generators to measure every mode × pinning with, interleaved (default: the Node generator only). */
  loadgens?: Loadgen[];
  /** The fortio binary (required when loadgens has 'fortio'). */
  fortio?: string;
  /** Repetitions of every mode × pinning × rate × load generator, interleaved (default 1); per mode with repeatsFor. */
  repeats?: number;
  repeatsFor?: (mode: string) => number;
  seconds: number;
  warmupSeconds: number;
  /** After a mode's last measured run, wait this long without load and log its proxies' memory again (default 0: no idle figure). */
  idleSeconds?: number;
  log: (line: string) => void;
}

/** One line with each proxy's RSS, anonymous part and PSS (MB), and how long it has run. */
function logMemory(options: DataplaneOptions, mode: string, when: string, setup: ModeSetup, startedAt: number): void {
  if (setup.proxies.length === 0) return;
  const each = setup.proxies.map((p) => {
    const m = memoryMb(p.pid);
    return `rss ${m.rss.toFixed(1)} anon ${m.anon.toFixed(1)} file ${m.file.toFixed(1)} pss ${m.pss.toFixed(1)}`;
  });
  options.log(`${mode.padEnd(16)} memory ${when} (${Math.round((Date.now() - startedAt) / 1000)} s after setup began): ${each.join(' | ')} MB  load ${loadavg()[0].toFixed(1)}`);
}

export async function runDataplaneBench(options: DataplaneOptions): Promise<DataplaneRow[]> {
  const pair = await createNetnsPair(String(process.pid % 100000));
  const rows: DataplaneRow[] = [];
  let backend: Started | undefined;
  let fortioServer: Started | undefined;
  const loadgens = options.loadgens ?? ['node'];
  const fortioWanted = loadgens.some((l) => l !== 'node');
  if (fortioWanted && !options.fortio) throw new Error('fortio rows need the fortio binary (scripts/fortio.sh)');
  try {
    const backendPort = BACKEND_PORT;
    backend = await spawnInNetns(pair.server, [node, join(here, 'http-backend.ts'), String(backendPort)], { cpu: '0' });
    if (options.fortio && fortioWanted) fortioServer = await spawnInNetns(pair.server, fortioServerArgv(options.fortio, FORTIO_PORT), { cpu: '0', readyText: 'http-echo server listening', readyStream: 'stderr' });
    const pinnings = options.pinnings ?? [PINNINGS['per-pod'], PINNINGS.shared];
    for (const mode of options.modes) {
      const modePinnings = options.pinningsFor ? options.pinningsFor(mode.name, pinnings) : pinnings;
      if (modePinnings.length === 0) continue;
      const skip = mode.skipReason?.();
      if (skip) {
        options.log(`${mode.name}: skipped: ${skip}`);
        continue;
      }
      let setup: ModeSetup;
      const startedAt = Date.now();
      try {
        setup = await mode.setup(pair, backendPort);
      } catch (err) {
        // seen intermittently on the loaded shared VM: the server sidecar's path never answers
        options.log(`${mode.name}: setup failed, retrying once: ${String((err as Error).message).split('\n').slice(-3).join(' | ')}`);
        try {
          setup = await mode.setup(pair, backendPort);
        } catch (again) {
          // the other modes' rows still count: this one is reported missing, not the whole run lost
          options.log(`${mode.name}: setup failed again, NO ROWS for this mode: ${String((again as Error).message).split('\n').slice(0, 12).join(' | ')}`);
          continue;
        }
      }
      try {
        logMemory(options, mode.name, 'idle, before load', setup, startedAt);
        if (setup.proxies.length > 0) {
          // JIT warm-up before the first measured run (V8 still compiles the hot path ~10 s into
          // load), so the first pinning measured does not pay it and the pinnings compare alike
          applyPinning(modePinnings[0], backend, setup.proxies, setup.proxyPods);
          if (fortioServer) applyPinning(modePinnings[0], fortioServer, [], []);
          await runInNetns(pair.client, [node, join(here, 'load-generator.ts'), JSON.stringify({ ...loadArgsOf(setup, options.rates[0], options), seconds: WARMUP_SECONDS, warmupSeconds: 0 })], modePinnings[0].loadgen);
        }
        const repeats = options.repeatsFor?.(mode.name) ?? options.repeats ?? 1;
        for (const pin of modePinnings) {
          applyPinning(pin, backend, setup.proxies, setup.proxyPods);
          if (fortioServer) applyPinning(pin, fortioServer, [], []);
          for (let run = 0; run < repeats; run++) {
            for (const rps of options.rates) {
              for (const lg of loadgens) {
                if (lg !== 'node' && !setup.fortioTarget) continue;
                rows.push(await measure(pair, setup, mode.name, pin, rps, lg, run, options));
              }
            }
          }
        }
        logMemory(options, mode.name, 'after load', setup, startedAt);
        if (options.idleSeconds && setup.proxies.length > 0) {
          await new Promise((r) => setTimeout(r, options.idleSeconds! * 1000));
          logMemory(options, mode.name, `idle ${options.idleSeconds} s after load`, setup, startedAt);
        }
      } finally {
        await setup.stop();
      }
    }
  } finally {
    await backend?.stop();
    await fortioServer?.stop();
    await pair.destroy();
  }
  return rows;
}

/** Unmeasured load on a fresh proxy before its first measured run. */
const WARMUP_SECONDS = 8;

function loadArgsOf(setup: ModeSetup, rps: number, options: DataplaneOptions): Record<string, unknown> {
  return {
    host: setup.target.host,
    port: setup.target.port,
    hostHeader: setup.target.hostHeader,
    rps,
    connections: 4,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    payloadBytes: 1024,
    path: '/echo',
  };
}

/** One constant-rate run of the load generator (in the client pod, on the pinning's CPU) through `setup`. */
async function measure(pair: NetnsPair, setup: ModeSetup, mode: string, pin: Pinning, rps: number, loadgen: Loadgen, run: number, options: DataplaneOptions): Promise<DataplaneRow> {
  const cpuBefore = setup.proxies.map((p) => cpuSeconds(p.pid));
  const t0 = process.hrtime.bigint();
  let result: Record<string, number>;
  if (loadgen !== 'node') {
    const t = setup.fortioTarget!;
    result = { ...(await runFortio(options.fortio!, pair.client, pin.loadgen, { ...t, rps, connections: 4, seconds: options.seconds, payloadBytes: 1024, uniform: loadgen === 'fortio-uniform' })) };
  } else {
    const out = await runInNetns(pair.client, [node, join(here, 'load-generator.ts'), JSON.stringify(loadArgsOf(setup, rps, options))], pin.loadgen);
    result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuEach = setup.proxies.map((p, i) => (cpuSeconds(p.pid) - cpuBefore[i]) / wall / (rps / 1000));
  const mem = setup.proxies.map((p) => memoryMb(p.pid));
  const maxOf = (k: 'anon' | 'pss'): number => (mem.length ? Number(Math.max(...mem.map((m) => m[k])).toFixed(1)) : 0);
  const row: DataplaneRow = {
    mode,
    loadgen,
    run,
    pinning: pin.name,
    rps,
    p50_ms: result.p50_ms,
    p90_ms: result.p90_ms,
    p99_ms: result.p99_ms,
    achieved_rps: Math.round(result.achieved_rps),
    errors: result.errors,
    cpu_vcpu_per_1000rps: cpuEach.length ? Math.max(...cpuEach) : 0,
    rss_mb: setup.proxies.length ? Math.max(...setup.proxies.map((p) => rssMb(p.pid))) : 0,
    rss_anon_mb: maxOf('anon'),
    pss_mb: maxOf('pss'),
    proxies: setup.proxies.length,
    cpu_each: cpuEach.map((c) => Number(c.toFixed(3))),
    rss_each: setup.proxies.map((p) => Number(rssMb(p.pid).toFixed(1))),
    load1: loadavg()[0],
  };
  options.log(
    `${row.mode.padEnd(16)} ${row.pinning.padEnd(7)} ${loadgen.padEnd(6)} ${String(rps).padStart(5)} rps  p50 ${row.p50_ms.toFixed(3)}  p90 ${row.p90_ms.toFixed(3)}  p99 ${row.p99_ms.toFixed(3)} ms  ` +
      `cpu ${row.cpu_vcpu_per_1000rps.toFixed(3)} vCPU/1k rps [${row.cpu_each.join(' ')}]  rss ${row.rss_mb.toFixed(1)} MB [${row.rss_each.join(' ')}] anon ${row.rss_anon_mb} pss ${row.pss_mb}  errors ${row.errors}  load ${row.load1.toFixed(1)}`,
  );
  return row;
}
