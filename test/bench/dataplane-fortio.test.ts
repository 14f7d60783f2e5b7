import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseFortioJson } from '../../bench/dataplane/fortio-load.ts';
import { summarize } from '../../bench/dataplane/dataplane-summary.ts';
import type { DataplaneRow } from '../../bench/dataplane/dataplane-bench.ts';
import { fortioBinary } from '../../src/runtime/sample-images.ts';
import { execFileSync, spawn } from 'node:child_process';
import { freePort } from '../runtime/netns-test-support.ts';

/** The parts of fortio 1.63's `-json` report the benchmark reads (values in seconds). */
const report = (codes: Record<string, number>): string =>
  JSON.stringify({
    RunType: 'HTTP',
    ActualQPS: 999.5,
    RetCodes: codes,
    DurationHistogram: { Count: 100, Percentiles: [{ Percentile: 50, Value: 0.00041 }, { Percentile: 90, Value: 0.0009 }, { Percentile: 99, Value: 0.0021 }] },
  });

describe("the data-plane benchmark's fortio rows", () => {
  it('reads P50/P90/P99 in ms, errors and the achieved rate of 200s from a fortio report', () => {
    assert.deepEqual(parseFortioJson(report({ '200': 20000 })), { p50_ms: 0.41, p90_ms: 0.9, p99_ms: 2.1, achieved_rps: 999.5, errors: 0, ok: 20000 });
    const r = parseFortioJson('log line\n' + report({ '200': 19000, '503': 1000 }));
    assert.equal(r.errors, 1000);
    assert.ok(Math.abs(r.achieved_rps - 999.5 * 0.95) < 1e-9);
    assert.throws(() => parseFortioJson('no report'), /no JSON report/);
  });

  it('summarizes what each path adds over plain, paired by pinning, generator and run, as a range', () => {
    const row = (mode: string, loadgen: 'node' | 'fortio', run: number, p90: number, cpu = 0): DataplaneRow =>
      ({ mode, loadgen, run, pinning: 'per-pod', rps: 1000, p50_ms: p90 / 2, p90_ms: p90, p99_ms: p90 * 2, cpu_vcpu_per_1000rps: cpu, rss_mb: cpu ? 90 : 0, load1: 1 }) as DataplaneRow;
    const s = summarize([
      row('direct', 'fortio', 0, 0.5), row('direct', 'node', 0, 1.2), row('direct', 'fortio', 1, 0.7),
      row('sidecar', 'fortio', 0, 1.5, 0.2), row('sidecar', 'node', 0, 1.6, 0.18), row('sidecar', 'fortio', 1, 1.4, 0.22),
    ]);
    const f = s.find((x) => x.mode === 'sidecar' && x.loadgen === 'fortio')!;
    assert.equal(f.runs, 2);
    assert.deepEqual(f.added_p90_ms, { min: 0.7, max: 1 });
    assert.deepEqual(f.cpu_vcpu_per_1000rps, { min: 0.2, max: 0.22 });
    const n = s.find((x) => x.mode === 'sidecar' && x.loadgen === 'node')!;
    assert.deepEqual(n.added_p90_ms, { min: 0.4, max: 0.4 });
    assert.equal(s.length, 2);
  });

  it('reads the report of the real fortio (skipped without scripts/fortio.sh)', async (t) => {
    const bin = fortioBinary(process.env);
    if (!bin || !existsSync(bin)) return t.skip('fortio is not installed (scripts/fortio.sh builds it)');
    const port = await freePort();
    const server = spawn(bin, ['server', '-http-port', `127.0.0.1:${port}`, '-grpc-port', 'disabled', '-redirect-port', 'disabled'], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => void server.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      let err = '';
      server.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('http-echo server listening')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`fortio server exited ${code}: ${err}`)));
    });
    const out = execFileSync(bin, ['load', '-qps', '200', '-c', '2', '-payload-size', '1024', '-n', '40', '-r', '0.00001', '-p', '50,90,99', '-quiet', '-json', '-', `http://127.0.0.1:${port}/echo`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const r = parseFortioJson(out);
    assert.equal(r.ok, 40);
    assert.equal(r.errors, 0);
    assert.ok(r.p50_ms > 0 && r.p50_ms <= r.p90_ms && r.p90_ms <= r.p99_ms, JSON.stringify(r));
  });
});
