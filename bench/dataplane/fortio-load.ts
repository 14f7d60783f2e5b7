/**
 * fortio (Istio's load generator and echo server) in the data-plane benchmark: `fortio server` in
 * the server pod beside the Node backend, `fortio load` in the client pod as Istio's perf tests run
 * it (`fortio load -qps R -c 4 -payload-size 1024 -t Ns`), so the headline figure is the one a user
 * reproduces with Istio's own tool. The binary comes from scripts/fortio.sh (Go module proxy,
 * cached under /var/cache/mizzen/fortio-VERSION/).
 *
 * How fortio measures differs from bench/dataplane/load-generator.ts (BENCHMARKS.md explains the
 * consequences): each of the C connections is its own goroutine that sleeps until its next slot
 * and times a request from when it is actually sent (not from its intended time: no
 * coordinated-omission correction), and the first request of each connection is an unmeasured
 * warm-up call. Histogram resolution here is 10 µs (`-r 0.00001`; fortio's default, 1 ms,
 * interpolates every sub-millisecond figure inside one bucket).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fortioBinary } from '../../src/runtime/sample-images.ts';
import { runInNetns } from './spawn-in-netns.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The fortio binary, building it with scripts/fortio.sh (cached) when `install` and it is missing; undefined if unavailable. */
export function findFortio(options: { install: boolean; log: (line: string) => void }): string | undefined {
  const found = fortioBinary(process.env);
  if (found || !options.install) return found;
  options.log('fortio is not installed: building it with scripts/fortio.sh (go install fortio.org/fortio, cached)');
  try {
    execFileSync('bash', [join(root, 'scripts', 'fortio.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    options.log(`fortio could not be built, fortio rows skipped: ${String((err as Error).message).split('\n').slice(0, 3).join(' | ')}`);
    return undefined;
  }
  const built = fortioBinary(process.env);
  return built && existsSync(built) ? built : undefined;
}

/** argv of the echo server (answers every path but /fortio/ with the request's body). */
export function fortioServerArgv(bin: string, port: number): string[] {
  return [bin, 'server', '-http-port', `0.0.0.0:${port}`, '-grpc-port', 'disabled', '-redirect-port', 'disabled', '-loglevel', 'Warning'];
}

export interface FortioResult {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  achieved_rps: number;
  errors: number;
  ok: number;
}

export interface FortioLoad {
  host: string;
  port: number;
  hostHeader: string;
  rps: number;
  connections: number;
  seconds: number;
  payloadBytes: number;
  /** `-uniform`: stagger the connections' schedules (fortio's default fires all C at the same instant). */
  uniform?: boolean;
}

/** One `fortio load` run in namespace `ns` on CPUs `cpu`; its JSON report reduced to the benchmark's fields. */
export async function runFortio(bin: string, ns: string, cpu: string, load: FortioLoad): Promise<FortioResult> {
  const argv = [
    bin, 'load', '-qps', String(load.rps), '-c', String(load.connections), '-payload-size', String(load.payloadBytes),
    '-t', `${load.seconds}s`, '-r', '0.00001', '-p', '50,90,99', '-H', `Host: ${load.hostHeader}`,
    ...(load.uniform ? ['-uniform'] : []), '-quiet', '-json', '-', `http://${load.host}:${load.port}/echo`,
  ];
  const out = await runInNetns(ns, argv, cpu);
  return parseFortioJson(out);
}

interface FortioJson {
  ActualQPS: number;
  RetCodes: Record<string, number>;
  DurationHistogram: { Count: number; Percentiles: { Percentile: number; Value: number }[] };
}

/** fortio's `-json -` report (stdout; its log lines go to stderr) to the benchmark's fields. */
export function parseFortioJson(stdout: string): FortioResult {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`fortio printed no JSON report: ${stdout.slice(0, 300)}`);
  const report = JSON.parse(stdout.slice(start)) as FortioJson;
  const pct = (p: number): number => {
    const found = report.DurationHistogram.Percentiles.find((x) => x.Percentile === p);
    if (!found) throw new Error(`fortio report has no P${p}`);
    return Number((found.Value * 1000).toFixed(4));
  };
  const ok = report.RetCodes['200'] ?? 0;
  const all = Object.values(report.RetCodes).reduce((a, b) => a + b, 0);
  return { p50_ms: pct(50), p90_ms: pct(90), p99_ms: pct(99), achieved_rps: report.ActualQPS * (all > 0 ? ok / all : 0), errors: all - ok, ok };
}
