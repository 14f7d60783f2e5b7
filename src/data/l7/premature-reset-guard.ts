/**
 * Envoy's defence against HTTP/2 rapid reset (CVE-2023-44487), per downstream connection: a stream
 * the client resets before any response and within its first second is "premature"; once at least
 * half of the streams are premature — counted over the first 500 streams, or over all of them
 * after that — the connection is closed (`downstream_rq_too_many_premature_resets`). Envoy's
 * runtime defaults: `overload.premature_reset_total_stream_count` 500,
 * `overload.premature_reset_min_stream_lifetime_seconds` 1.
 */
export class PrematureResetGuard {
  private closed = 0;
  private premature = 0;
  private readonly limit: number;
  private readonly minLifetimeSeconds: number;

  constructor(limit = 500, minLifetimeSeconds = 1) {
    this.limit = limit;
    this.minLifetimeSeconds = minLifetimeSeconds;
  }

  /** A stream closed after `lifetimeMs`; `answered`: a response status was sent. True: close the connection. */
  onStreamClosed(lifetimeMs: number, answered: boolean): boolean {
    this.closed++;
    // whole seconds, as Envoy compares them
    if (!answered && Math.floor(lifetimeMs / 1000) <= this.minLifetimeSeconds) this.premature++;
    if (this.premature === 0) return false;
    return this.closed < this.limit ? this.premature * 2 >= this.limit : this.premature * 2 >= this.closed;
  }
}
