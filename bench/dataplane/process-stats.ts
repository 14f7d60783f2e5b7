/** CPU time and RSS of a process from /proc, for per-proxy cost figures. */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds consumed so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is state (field 3); utime is field 14, stime field 15
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Resident set size in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Memory of a process in MB: RSS (counts shared file pages such as the node binary), its anonymous part (private heap), and PSS (shared pages divided among the processes mapping them). */
export interface MemoryMb {
  rss: number;
  anon: number;
  file: number;
  pss: number;
}

/** RSS, anonymous RSS and PSS from /proc/PID/smaps_rollup (PSS 0 when the kernel does not provide it). */
export function memoryMb(pid: number): MemoryMb {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (text: string, field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  let pss = 0;
  try {
    pss = kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  } catch {
    // no smaps_rollup (old kernel or no permission)
  }
  return { rss: kb(status, 'VmRSS') / 1024, anon: kb(status, 'RssAnon') / 1024, file: kb(status, 'RssFile') / 1024, pss: pss / 1024 };
}
