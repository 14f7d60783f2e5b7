import { readFileSync } from 'node:fs';
import { libc } from './libc.ts';
import type { Logger } from './log.ts';

/**
 * Working-set trim for long-running Node processes (the proxies: sidecar, gateway, waypoint and ztunnel). First, malloc_trim(0): the free
 * memory inside glibc's malloc arenas (V8's compiler zones and OpenSSL's buffers of the warm-up,
 * freed but kept by the allocator, ~10 MB in a sidecar) goes back to the kernel. Then drop this process's page-table
 * entries for the read-only file pages of the `node` binary (its code, V8's snapshot and embedded
 * builtins, ICU data, OpenSSL), so that what start-up touched once (bootstrap, snapshot
 * deserialization, module compilation, the optimizing compilers during warm-up) stops counting in
 * the process's RSS. The pages stay in the kernel's page cache, shared with every other process
 * of the binary; the next access maps a page again (a minor fault, no I/O), so the pages the
 * process keeps using come back and the rest stays out. Nothing changes for the program:
 * MADV_DONTNEED on a private file mapping that was never written (no anonymous copy-on-write
 * pages in it) re-reads exactly the file's bytes. Mappings that are writable, or that hold
 * written pages (relocated RELRO), are never touched.
 */

export interface FileMapping {
  start: bigint;
  end: bigint;
}

const MAPPING = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/;

/** The mappings of `file` in a /proc/PID/smaps text that are read-only and hold no written pages. */
export function trimmableMappings(smaps: string, file: string): FileMapping[] {
  const out: FileMapping[] = [];
  let current: { m: FileMapping; candidate: boolean; anonymousKb: number | undefined } | undefined;
  const flush = (): void => {
    if (current?.candidate && current.anonymousKb === 0) out.push(current.m);
  };
  for (const line of smaps.split('\n')) {
    const m = MAPPING.exec(line);
    if (m) {
      flush();
      const perms = m[3];
      current = { m: { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`) }, candidate: m[4] === file && !perms.includes('w') && perms[3] === 'p', anonymousKb: undefined };
      continue;
    }
    if (current && line.startsWith('Anonymous:')) current.anonymousKb = Number(/(\d+)/.exec(line)?.[1] ?? NaN);
  }
  flush();
  return out;
}

export interface TrimResult {
  /** Read-only mappings of the binary whose pages were dropped. */
  mappings: number;
  /** Resident set before and after, in KiB (smaps_rollup `Rss`). */
  rssBeforeKb: number;
  rssAfterKb: number;
}

export const MADV_DONTNEED = 4;

function rssKb(): number {
  return Number(/^Rss:\s+(\d+)/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1] ?? NaN);
}

/** What the trim calls in libc (src/lib/libc.ts). */
export interface TrimCalls {
  madvise(addr: bigint, length: number, advice: number): number;
  malloc_trim(pad: number): number;
}

/**
 * Give back malloc's free memory, then drop the resident read-only pages of `file` (default: the
 * running node binary); a mapping madvise refuses is skipped. Linux only (reads /proc/self/smaps).
 */
export function trimExecutablePages(calls: TrimCalls, file = process.execPath): TrimResult {
  const rssBeforeKb = rssKb();
  calls.malloc_trim(0);
  let mappings = 0;
  for (const m of trimmableMappings(readFileSync('/proc/self/smaps', 'utf8'), file)) {
    if (calls.madvise(m.start, Number(m.end - m.start), MADV_DONTNEED) === 0) mappings++;
  }
  return { mappings, rssBeforeKb, rssAfterKb: rssKb() };
}

export interface ExecutableTrimOptions {
  /**
   * When to trim, in ms after start: after start-up, and again after the JIT's warm-up under
   * traffic (the optimizing compilers' pages). Not periodic: what the process keeps using stays.
   */
  atMs: readonly number[];
  calls: TrimCalls;
  onTrim: (r: TrimResult) => void;
  onError: (err: unknown) => void;
}

/** Trim at the given times on unref'd timers (they never keep the process alive); returns the stop function. */
export function startExecutableTrim(o: ExecutableTrimOptions): () => void {
  const timers: NodeJS.Timeout[] = [];
  const stop = (): void => timers.forEach((t) => clearTimeout(t));
  for (const ms of o.atMs) {
    const t = setTimeout(() => {
      try {
        o.onTrim(trimExecutablePages(o.calls));
      } catch (err) {
        stop(); // no /proc or no madvise here: do not try again
        o.onError(err);
      }
    }, ms);
    t.unref();
    timers.push(t);
  }
  return stop;
}

/**
 * When a long-running proxy trims (ms after start): after start-up, and after the JIT's warm-up
 * under traffic. `MIZZEN_PROXY_TRIM_PAGES=off` (the value given here by a command's config module): never.
 */
export function trimSchedule(setting: string | undefined): readonly number[] {
  return setting === 'off' ? [] : [20_000, 120_000];
}

/**
 * Keep a proxy's resident set to what it uses: malloc's free memory and the node binary's pages
 * that only start-up and warm-up touched (~30 MB under load) leave RSS. The composition roots of
 * `mizzen proxy sidecar|router|waypoint` and `mizzen proxy ztunnel` call this; returns the stop
 * function, or undefined when there is nothing to do (empty schedule, not Linux, no libc calls).
 */
export function startProxyTrim(atMs: readonly number[], log: Logger, calls?: TrimCalls): (() => void) | undefined {
  if (atMs.length === 0 || process.platform !== 'linux') return undefined;
  let c: TrimCalls;
  try {
    c = calls ?? libc();
  } catch (err) {
    log.debug({ err }, 'file-page trim unavailable');
    return undefined;
  }
  return startExecutableTrim({
    atMs,
    calls: c,
    onTrim: (r) => log.debug({ mappings: r.mappings, rssBeforeKb: r.rssBeforeKb, rssAfterKb: r.rssAfterKb }, "gave back free malloc memory and the node binary's start-up pages"),
    onError: (err) => log.debug({ err }, 'file-page trim failed; not tried again'),
  });
}
