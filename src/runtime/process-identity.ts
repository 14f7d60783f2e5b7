import { readFileSync } from 'node:fs';

/**
 * A process named by pid and start time (clock ticks since boot, /proc/PID/stat field 22), so a
 * pid reused by another process after a crash or a reboot is not taken for the one recorded.
 */
export interface ProcessIdentity {
  pid: number;
  /** Undefined when it could not be read (then only the pid is compared). */
  startTime: string | undefined;
}

/** Fields 3.. of /proc/PID/stat (state first), or undefined (gone, or not Linux). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The start time of a running process, or undefined (gone, or not Linux). */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

export function currentProcessIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid) };
}

/** Whether the process that was recorded still runs (same pid, same start time when known). */
export function processRunning(id: ProcessIdentity): boolean {
  try {
    process.kill(id.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const fields = statFields(id.pid);
  // A zombie has exited (only its parent has not reaped it yet).
  if (fields?.[0] === 'Z') return false;
  if (id.startTime === undefined || fields === undefined) return true;
  return fields[19] === id.startTime;
}
