/**
 * The data-plane benchmark's headline: for every mode with proxies, per pinning and load
 * generator, what the path adds to the plain (no proxy) path of the same run (P50/P90/P99, each
 * repetition paired with the `direct` measurement of the same repetition), CPU per proxy per
 * 1,000 rps and RSS per proxy, as the range over the repetitions (the spread).
 */
import type { DataplaneRow } from './dataplane-bench.ts';

export interface Range {
  min: number;
  max: number;
}

export interface SummaryRow {
  mode: string;
  pinning: string;
  loadgen: string;
  rps: number;
  runs: number;
  /** The plain path's own percentiles in the same runs. */
  direct_p90_ms: Range;
  added_p50_ms: Range;
  added_p90_ms: Range;
  added_p99_ms: Range;
  cpu_vcpu_per_1000rps: Range;
  rss_mb: Range;
  load1: Range;
}

const range = (xs: number[], digits = 3): Range => ({ min: Number(Math.min(...xs).toFixed(digits)), max: Number(Math.max(...xs).toFixed(digits)) });

export function summarize(rows: DataplaneRow[]): SummaryRow[] {
  const key = (r: DataplaneRow): string => `${r.pinning}|${r.loadgen}|${r.rps}`;
  const direct = new Map<string, DataplaneRow[]>();
  for (const r of rows) if (r.mode === 'direct') direct.set(key(r), [...(direct.get(key(r)) ?? []), r]);
  const groups = new Map<string, DataplaneRow[]>();
  for (const r of rows) {
    if (r.mode === 'direct' || !direct.has(key(r))) continue;
    const k = `${r.mode}|${key(r)}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const base = direct.get(key(rs[0]))!;
    // pair with the direct run of the same index when there is one, else with the closest (last) one
    const paired = rs.map((r) => [r, base.find((b) => b.run === r.run) ?? base[base.length - 1]] as const);
    return {
      mode: rs[0].mode,
      pinning: rs[0].pinning,
      loadgen: rs[0].loadgen,
      rps: rs[0].rps,
      runs: rs.length,
      direct_p90_ms: range(paired.map(([, b]) => b.p90_ms)),
      added_p50_ms: range(paired.map(([r, b]) => r.p50_ms - b.p50_ms)),
      added_p90_ms: range(paired.map(([r, b]) => r.p90_ms - b.p90_ms)),
      added_p99_ms: range(paired.map(([r, b]) => r.p99_ms - b.p99_ms)),
      cpu_vcpu_per_1000rps: range(rs.map((r) => r.cpu_vcpu_per_1000rps)),
      rss_mb: range(rs.map((r) => r.rss_mb), 1),
      load1: range(rs.map((r) => r.load1), 1),
    };
  });
}

const fmt = (r: Range, digits = 2, sign = ''): string => {
  const one = (x: number): string => (sign && x >= 0 ? sign : '') + x.toFixed(digits);
  return one(r.min) === one(r.max) ? one(r.min) : `${one(r.min)}…${one(r.max)}`;
};

/** One line per summary row, for the benchmark's log. */
export function summaryLines(summary: SummaryRow[]): string[] {
  return summary.map(
    (s) =>
      `${s.mode.padEnd(16)} ${s.pinning.padEnd(7)} ${s.loadgen.padEnd(6)} ${s.rps} rps ×${s.runs}  added p50 ${fmt(s.added_p50_ms, 2, '+')}  p90 ${fmt(s.added_p90_ms, 2, '+')}  p99 ${fmt(s.added_p99_ms, 2, '+')} ms ` +
      `(plain p90 ${fmt(s.direct_p90_ms)})  cpu ${fmt(s.cpu_vcpu_per_1000rps, 3)} vCPU/1k rps/proxy  rss ${fmt(s.rss_mb, 0)} MB  load ${fmt(s.load1, 1)}`,
  );
}
