/**
 * Exponential backoff with full jitter bounds: delay n is drawn from
 * [base*mult^n*(1-jitter), base*mult^n], capped at `maxMs`. `random` is injectable for tests.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  multiplier?: number;
  /** Fraction of each delay that is randomised away (0 = none, 1 = full jitter). */
  jitter?: number;
  random?: () => number;
}

export class ExponentialBackoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 1000;
    this.maxMs = o.maxMs ?? 60_000;
    this.multiplier = o.multiplier ?? 2;
    this.jitter = o.jitter ?? 0.2;
    this.random = o.random ?? Math.random;
  }

  /** The next delay; each call grows the following one. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * this.multiplier ** this.attempt);
    this.attempt++;
    return Math.round(ceiling * (1 - this.jitter * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
