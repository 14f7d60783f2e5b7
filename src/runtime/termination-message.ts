import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Why a container stopped, from what it wrote during its last run (the kubelet's
 * `FallbackToLogsOnError`: the tail of the log becomes the termination message).
 */
export interface TerminationMessage {
  /** The last lines of the run's output (at most 2 KiB / 20 lines, like the kubelet's 2 KiB). */
  message: string;
  /** One line that says what went wrong: the first error line of the run, else its last line. */
  cause: string;
}

const TAIL_BYTES = 2048;
const HEAD_BYTES = 64 * 1024;
const ERROR_LINE = /^(?:\w*(?:Error|Exception)\b|error:|fatal:|panic:)|\b(?:EACCES|EPERM|ENOENT|permission denied|operation not permitted|cannot|could not|failed to)\b/i;

function readRange(fd: number, start: number, length: number): string {
  const buf = Buffer.alloc(Math.max(0, length));
  const n = readSync(fd, buf, 0, buf.length, start);
  return buf.subarray(0, n).toString('utf8');
}

/** The output a run appended to `logFile` from byte `offset` on, summarised. */
export function readTerminationMessage(logFile: string, offset: number): TerminationMessage {
  let fd: number;
  try {
    fd = openSync(logFile, 'r');
  } catch {
    return { message: '', cause: '' };
  }
  try {
    const end = fstatSync(fd).size;
    const head = readRange(fd, offset, Math.min(HEAD_BYTES, end - offset));
    const tailStart = Math.max(offset, end - TAIL_BYTES);
    const tail = readRange(fd, tailStart, end - tailStart);
    return summarise(head, tail);
  } finally {
    closeSync(fd);
  }
}

/** The cause line and the message from a run's first and last output. */
export function summarise(head: string, tail: string): TerminationMessage {
  const lines = (text: string): string[] => text.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const tailLines = lines(tail);
  const message = tailLines.slice(-20).join('\n');
  const errorLine = lines(head).find((l) => ERROR_LINE.test(l.trim()) && !/^\s+at /.test(l));
  const cause = (errorLine ?? tailLines.at(-1) ?? '').trim();
  return { message, cause: cause.length > 300 ? `${cause.slice(0, 297)}...` : cause };
}
