import { readdirSync, readFileSync } from 'node:fs';
import { libc, RLIMIT_NOFILE } from './libc.ts';

/** The process's open-files limit (RLIMIT_NOFILE): what `open`, `socket` and `accept` may reach. */
export interface OpenFilesLimit {
  soft: number;
  hard: number;
}

/** RLIMIT_NOFILE of this process; undefined where it cannot be read (not Linux, no koffi). */
export function openFilesLimit(): OpenFilesLimit | undefined {
  try {
    const buf = Buffer.alloc(16);
    if (libc().getrlimit(RLIMIT_NOFILE, buf) !== 0) return undefined;
    return { soft: rlimValue(buf.readBigUInt64LE(0)), hard: rlimValue(buf.readBigUInt64LE(8)) };
  } catch {
    return undefined;
  }
}

/** RLIM_INFINITY (all ones) reads as Infinity; anything else as a number. */
function rlimValue(v: bigint): number {
  return v >= 0xffff_ffff_ffff_fff0n ? Number.POSITIVE_INFINITY : Number(v);
}

/**
 * Set the soft open-files limit (never above the hard limit; lowering is always allowed, raising
 * up to the hard limit needs no privilege). Returns the limit in force afterwards, or an error
 * message.
 */
export function setOpenFilesSoftLimit(soft: number): OpenFilesLimit | string {
  const cur = openFilesLimit();
  if (!cur) return 'RLIMIT_NOFILE cannot be read here';
  const want = Math.min(soft, cur.hard);
  const buf = Buffer.alloc(16);
  buf.writeBigUInt64LE(Number.isFinite(want) ? BigInt(want) : 0xffff_ffff_ffff_ffffn, 0);
  buf.writeBigUInt64LE(Number.isFinite(cur.hard) ? BigInt(cur.hard) : 0xffff_ffff_ffff_ffffn, 8);
  const l = libc();
  if (l.setrlimit(RLIMIT_NOFILE, buf) !== 0) return `setrlimit(RLIMIT_NOFILE) failed: errno ${l.errno()}`;
  return openFilesLimit() ?? 'RLIMIT_NOFILE cannot be read here';
}

/**
 * What container runtimes and Envoy's deployments do at start: raise the soft open-files limit to
 * the hard limit (Linux caps it at fs.nr_open; 1,048,576 by default).
 */
export function raiseOpenFilesLimit(): { before: OpenFilesLimit; after: OpenFilesLimit } | string {
  const before = openFilesLimit();
  if (!before) return 'RLIMIT_NOFILE cannot be read here';
  if (before.soft >= before.hard) return { before, after: before };
  let target = before.hard;
  if (!Number.isFinite(target)) target = 1_048_576;
  const after = setOpenFilesSoftLimit(target);
  return typeof after === 'string' ? after : { before, after };
}

/** Descriptors this process has open now (`/proc/self/fd`); undefined where there is no procfs. */
export function countOpenFiles(): number | undefined {
  try {
    // the directory's own descriptor is listed too
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/** The soft open-files limit from `/proc/self/limits` (no native call); undefined without procfs. */
export function openFilesSoftLimitFromProc(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'latin1').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined) return undefined;
    return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return undefined;
  }
}
