import type { Clock, TimerHandle } from '../../lib/clock.ts';

export interface DebouncerOptions<R> {
  clock: Clock;
  /** Quiet period before a push (Istio's PILOT_DEBOUNCE_AFTER, default 100 ms). */
  afterMs: number;
  /** Longest a change may wait (PILOT_DEBOUNCE_MAX, default 10 s). */
  maxMs: number;
  merge(older: R, newer: R): R;
  /** Runs the merged request; a new flush never starts before the previous one settles. */
  flush(request: R, debouncedMs: number): Promise<void> | void;
  onError?(err: unknown): void;
}

/**
 * Istio's debounce: the first event opens a window; each further event extends it until
 * `afterMs` pass without events, or `maxMs` since the first event, whichever comes first. Events
 * are merged. While a flush is running, new events collect and flush after it.
 */
export class Debouncer<R> {
  private readonly o: DebouncerOptions<R>;
  private pending: R | undefined;
  private firstAt = 0;
  private lastAt = 0;
  private timer: TimerHandle | undefined;
  private busy = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Number of flushes so far. */
  flushes = 0;

  constructor(options: DebouncerOptions<R>) {
    this.o = options;
  }

  push(request: R): void {
    if (this.closed) return;
    const now = this.o.clock.now();
    if (this.pending === undefined) {
      this.pending = request;
      this.firstAt = now;
    } else {
      this.pending = this.o.merge(this.pending, request);
    }
    this.lastAt = now;
    if (!this.timer && !this.busy) this.schedule(this.o.afterMs);
  }

  private schedule(ms: number): void {
    this.timer = this.o.clock.setTimer(() => {
      this.timer = undefined;
      this.check();
    }, ms);
  }

  private check(): void {
    if (this.closed || this.busy || this.pending === undefined) return;
    const now = this.o.clock.now();
    const quiet = now - this.lastAt;
    const waited = now - this.firstAt;
    if (quiet >= this.o.afterMs || waited >= this.o.maxMs) {
      const request = this.pending;
      this.pending = undefined;
      void this.run(request, waited);
    } else {
      this.schedule(Math.min(this.o.afterMs - quiet, this.o.maxMs - waited));
    }
  }

  private async run(request: R, waited: number): Promise<void> {
    this.busy = true;
    this.flushes++;
    try {
      await this.o.flush(request, waited);
    } catch (err) {
      this.o.onError?.(err);
    } finally {
      this.busy = false;
      if (this.pending !== undefined && !this.timer) this.check();
      if (this.pending === undefined && this.idleWaiters.length > 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    }
  }

  /** True while a request waits or a flush runs. */
  get active(): boolean {
    return this.pending !== undefined || this.busy;
  }

  /** Resolves when nothing waits and no flush runs. */
  idle(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.pending = undefined;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
