import type { Span } from './span.ts';

export interface SpanBatcherOptions {
  /** Send when this many spans are pending (Envoy's zipkin min_flush_spans; larger here: fewer requests per span). */
  flushSpans: number;
  /** Send what is pending at least this often. */
  flushIntervalMs: number;
  /** Spans held at most (queued + in flight); beyond it new spans are dropped and counted. */
  maxPending: number;
  /** Send one batch; resolve true on success. Never called with an empty batch. */
  send: (batch: Span[]) => Promise<boolean>;
}

/** Counters an exporter exposes (Envoy's tracing.zipkin.* stats). */
export interface ExporterStats {
  spansSent: number;
  spansDropped: number;
  reportsSent: number;
  reportsFailed: number;
}

/**
 * Batching for span exporters: `report` only appends to an array (the request path never
 * waits, never does I/O); a batch goes out when `flushSpans` are pending or on the interval
 * timer (unref'd). At most one send is in flight; a full queue drops new spans (counted), so a
 * slow or absent collector costs bounded memory and nothing on the request path.
 */
export class SpanBatcher {
  readonly stats: ExporterStats = { spansSent: 0, spansDropped: 0, reportsSent: 0, reportsFailed: 0 };
  private pending: Span[] = [];
  private inFlight = 0;
  private sending = false;
  private readonly timer: NodeJS.Timeout;
  private readonly o: SpanBatcherOptions;
  private closed = false;

  constructor(o: SpanBatcherOptions) {
    this.o = o;
    this.timer = setInterval(() => this.flush(), o.flushIntervalMs);
    this.timer.unref();
  }

  report(span: Span): void {
    if (this.closed || this.pending.length + this.inFlight >= this.o.maxPending) {
      this.stats.spansDropped++;
      return;
    }
    this.pending.push(span);
    if (this.pending.length >= this.o.flushSpans && !this.sending) queueMicrotask(() => this.flush());
  }

  /** Send what is pending now (tests and shutdown). Resolves when this batch is answered. */
  flush(): Promise<void> {
    if (this.sending || this.pending.length === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = [];
    this.sending = true;
    this.inFlight = batch.length;
    const done = (ok: boolean): void => {
      this.sending = false;
      this.inFlight = 0;
      if (ok) {
        this.stats.reportsSent++;
        this.stats.spansSent += batch.length;
      } else {
        this.stats.reportsFailed++;
        this.stats.spansDropped += batch.length;
      }
      if (this.pending.length >= this.o.flushSpans) queueMicrotask(() => this.flush());
    };
    return this.o.send(batch).then(done, () => done(false));
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}
