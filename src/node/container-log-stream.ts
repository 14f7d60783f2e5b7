import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/** What `kubectl logs` asks the kubelet for (query of /containerLogs/NS/POD/CONTAINER). */
export interface LogQuery {
  follow: boolean;
  previous: boolean;
  tailLines?: number;
  limitBytes?: number;
}

/** A query refused with the kubelet's 400 and a message. */
export class LogQueryError extends Error {}

/**
 * Parse the query the API server forwards. Options Mizzen's log files cannot answer
 * (timestamps, sinceSeconds, sinceTime: lines are stored without times) are refused, not ignored.
 */
export function parseLogQuery(q: URLSearchParams): LogQuery {
  const bool = (k: string): boolean => q.get(k) === 'true' || q.get(k) === '1';
  const num = (k: string): number | undefined => {
    const v = q.get(k);
    if (v === null) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new LogQueryError(`${k}=${v}: must be a non-negative integer`);
    return n;
  };
  for (const k of ['timestamps', 'sinceSeconds', 'sinceTime']) {
    if (q.has(k) && !(k === 'timestamps' && !bool(k))) throw new LogQueryError(`${k} is not supported by mizzen node: container logs are stored without timestamps`);
  }
  const tailLines = num('tailLines');
  const limitBytes = num('limitBytes');
  return { follow: bool('follow'), previous: bool('previous'), ...(tailLines !== undefined ? { tailLines } : {}), ...(limitBytes !== undefined ? { limitBytes } : {}) };
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
 * container stopped and everything was sent. Returns a function that stops following.
 */
export function streamLog(file: string, q: LogQuery, sink: LogSink, running: () => boolean, pollMs = 250): () => void {
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
      const more = readRange(size, now);
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
    if (rotated || !running()) stop();
  }, pollMs);
  return stop;
}
