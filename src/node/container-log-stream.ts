import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { logTimestamp, type LogTimeline } from './log-timeline.ts';

/** What `kubectl logs` asks the kubelet for (query of /containerLogs/NS/POD/CONTAINER). */
export interface LogQuery {
  follow: boolean;
  previous: boolean;
  tailLines?: number;
  limitBytes?: number;
  /** Each line with the time it was written (RFC 3339, 9 fraction digits) and a space before it. */
  timestamps: boolean;
  /** Only lines written at or after this time (ms since the epoch; from sinceSeconds or sinceTime). */
  since?: number;
}

/** A query refused with the kubelet's 400 and a message. */
export class LogQueryError extends Error {}

/** Parse the query the API server forwards (kubectl logs' options). */
export function parseLogQuery(q: URLSearchParams, now: number = Date.now()): LogQuery {
  const bool = (k: string): boolean => q.get(k) === 'true' || q.get(k) === '1';
  const num = (k: string): number | undefined => {
    const v = q.get(k);
    if (v === null) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new LogQueryError(`${k}=${v}: must be a non-negative integer`);
    return n;
  };
  const tailLines = num('tailLines');
  const limitBytes = num('limitBytes');
  const sinceSeconds = num('sinceSeconds');
  const sinceTime = q.get('sinceTime');
  if (sinceSeconds !== undefined && sinceTime !== null) throw new LogQueryError('at most one of sinceSeconds or sinceTime may be specified');
  let since: number | undefined;
  if (sinceSeconds !== undefined) since = now - sinceSeconds * 1000;
  if (sinceTime !== null) {
    since = Date.parse(sinceTime);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(sinceTime) || Number.isNaN(since)) throw new LogQueryError(`sinceTime=${sinceTime}: must be an RFC 3339 time`);
  }
  return {
    follow: bool('follow'),
    previous: bool('previous'),
    timestamps: bool('timestamps'),
    ...(tailLines !== undefined ? { tailLines } : {}),
    ...(limitBytes !== undefined ? { limitBytes } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}

/** Bytes of the last `n` lines of `buf` (a trailing newline ends the last line). */
export function lastLines(buf: Buffer, n: number): Buffer {
  if (n === 0) return buf.subarray(buf.length);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (buf[i] === 0x0a && ++seen === n) return buf.subarray(i + 1);
  }
  return buf;
}

export interface LogSink {
  write(chunk: Buffer): void;
  end(): void;
  readonly closed: boolean;
}

/**
 * Send a log file to `sink`: what is there (tail, limit), then, with `follow`, what is appended
 * until the file is rotated (the container exited and restarted) or `running()` says the
 * container stopped and everything was sent. With `timestamps` or `since`, whole lines go out,
 * timed by `timeline` (the file's modification time without one), as the kubelet does: the tail
 * is taken first, then lines older than `since` are left out. Returns a function that stops
 * following.
 */
export function streamLog(file: string, q: LogQuery, sink: LogSink, running: () => boolean, pollMs = 250, timeline?: LogTimeline): () => void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    sink.end();
    return () => {};
  }
  const ino = fstatSync(fd).ino;
  let size = fstatSync(fd).size;
  let sent = 0;
  const limit = q.limitBytes ?? Infinity;
  const byLine = q.timestamps || q.since !== undefined;
  const mtime = fstatSync(fd).mtimeMs;
  const timeOf = (end: number): number => (timeline ? timeline.timeOf(end) : mtime);
  let partial = Buffer.alloc(0);
  /** Lines of `b` (which starts at file offset `at`) with their times; an unfinished last line waits unless `flush`. */
  const lines = (b: Buffer, at: number, flush: boolean): Buffer => {
    const data = partial.length > 0 ? Buffer.concat([partial, b]) : b;
    const base = at - partial.length;
    const out: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      const end = nl === -1 ? (flush ? data.length : -1) : nl + 1;
      if (end === -1 || end === start) break;
      const t = timeOf(base + end);
      if (q.since === undefined || t >= q.since) {
        if (q.timestamps) out.push(Buffer.from(`${logTimestamp(t)} `));
        out.push(data.subarray(start, end));
      }
      start = end;
    }
    partial = Buffer.from(data.subarray(start));
    return Buffer.concat(out);
  };
  const send = (b: Buffer): boolean => {
    const room = limit - sent;
    const part = b.length > room ? b.subarray(0, room) : b;
    if (part.length > 0) sink.write(part);
    sent += part.length;
    return sent < limit;
  };
  const readRange = (from: number, to: number): Buffer => {
    const buf = Buffer.alloc(to - from);
    let at = 0;
    while (at < buf.length) {
      const n = readSync(fd, buf, at, buf.length - at, from + at);
      if (n === 0) break;
      at += n;
    }
    return buf.subarray(0, at);
  };
  let first = readRange(0, size);
  if (q.tailLines !== undefined) first = lastLines(first, q.tailLines);
  if (byLine) first = lines(first, size - first.length, !q.follow);
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    if (!sink.closed) sink.end();
  };
  if (!send(first) || !q.follow) {
    stop();
    return stop;
  }
  timer = setInterval(() => {
    if (sink.closed) return stop();
    const now = fstatSync(fd).size;
    if (now > size) {
      let more = readRange(size, now);
      if (byLine) more = lines(more, size, false);
      size = now;
      if (!send(more)) return stop();
      return;
    }
    let rotated = false;
    try {
      rotated = statSync(file).ino !== ino;
    } catch {
      rotated = true;
    }
    if (rotated || !running()) {
      if (byLine && partial.length > 0) send(lines(Buffer.alloc(0), size, true));
      stop();
    }
  }, pollMs);
  return stop;
}
