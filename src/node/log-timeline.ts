import { statSync, watch, type FSWatcher } from 'node:fs';

/** Entries kept per log file before older ones are thinned (every other one dropped). */
const MAX_ENTRIES = 50_000;

/**
 * When each byte of a container's log file was first seen: the file's size is noted with the
 * time whenever it grows (inotify through fs.watch, and a poll every second as a fallback), so a
 * line's time is the time the node saw its last byte, within milliseconds of the write. This is
 * what `kubectl logs --timestamps/--since/--since-time` read: the kubelet's runtime timestamps a
 * line when it reads it from the container's pipe; here the container writes the file directly.
 * Kept in memory: a file written before the node watched it has its modification time.
 */
export class LogTimeline {
  private offsets: number[] = [];
  private times: number[] = [];
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;
  private readonly now: () => number;

  constructor(file: string, now: () => number = Date.now) {
    this.file = file;
    this.now = now;
  }

  /** Start noting growth (the file exists). */
  start(): void {
    this.note(true);
    try {
      this.watcher = watch(this.file, () => this.note());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // polled only
    }
    this.timer = setInterval(() => this.note(), 1000);
    this.timer.unref();
  }

  stop(): void {
    this.note();
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** How many bytes of the file have been seen. */
  get seenBytes(): number {
    return this.offsets.at(-1) ?? 0;
  }

  /** Note the file's size now (`initial`: what is there already was written by its modification time). */
  note(initial = false): void {
    let size: number;
    let mtime: number;
    try {
      const st = statSync(this.file);
      size = st.size;
      mtime = st.mtimeMs;
    } catch {
      return;
    }
    const last = this.offsets.at(-1) ?? 0;
    if (size <= last) return;
    this.record(size, initial ? Math.min(mtime, this.now()) : this.now());
  }

  record(size: number, time: number): void {
    this.offsets.push(size);
    this.times.push(time);
    if (this.offsets.length > MAX_ENTRIES) {
      // Older entries thinned: their lines get a slightly later time, never an earlier one.
      const keep = (_: number, i: number): boolean => i % 2 === 1 || i >= MAX_ENTRIES / 2;
      this.offsets = this.offsets.filter(keep);
      this.times = this.times.filter(keep);
    }
  }

  /** The time the byte before `end` was first seen (now when not seen yet). */
  timeOf(end: number): number {
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid]! >= end) hi = mid;
      else lo = mid + 1;
    }
    return lo < this.times.length ? this.times[lo]! : this.now();
  }
}

/** The kubelet's timestamp format (RFC 3339 with 9 fraction digits). */
export function logTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}
