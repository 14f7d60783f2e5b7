/**
 * Time as a dependency, so debounce, backoff and rotation are testable without sleeping.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run `fn` after `ms`; the handle cancels it. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
});

/** A clock moved by hand, for tests. Timers fire in due order when `advance` passes them. */
export class ManualClock implements Clock {
  private current: number;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  private seq = 0;

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  /** Move time forward by `ms`, firing due timers (including ones they schedule) in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.live && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.live = false;
      this.current = due.at;
      due.fn();
    }
    this.timers = this.timers.filter((t) => t.live);
    this.current = target;
  }

  pendingTimers(): number {
    return this.timers.filter((t) => t.live).length;
  }
}
