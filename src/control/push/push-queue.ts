/**
 * The push queue (like Istio's PushQueue): at most one pending request per connection — a new
 * request for a connection already waiting is merged into it — and at most `concurrency`
 * connections being pushed at once. A request arriving while its connection is being pushed
 * waits and runs after (merged with anything else that arrives meanwhile), so no update is lost
 * and a connection never has two pushes in flight.
 */
export interface PushQueueOptions<C, R> {
  concurrency: number;
  merge(older: R, newer: R): R;
  process(connection: C, request: R): Promise<void>;
  /** Called when `process` rejects (the queue keeps going). */
  onError?(connection: C, err: unknown): void;
}

export class PushQueue<C, R> {
  private readonly options: PushQueueOptions<C, R>;
  private readonly pending = new Map<C, R>();
  private readonly inProgress = new Set<C>();
  /** Requests that arrived for a connection while it was being pushed. */
  private readonly deferred = new Map<C, R>();
  private active = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Total processed, for tests and benchmarks. */
  processed = 0;

  constructor(options: PushQueueOptions<C, R>) {
    if (!(options.concurrency >= 1)) throw new RangeError('push queue concurrency must be >= 1');
    this.options = options;
  }

  enqueue(connection: C, request: R): void {
    if (this.closed) return;
    if (this.inProgress.has(connection)) {
      const d = this.deferred.get(connection);
      this.deferred.set(connection, d === undefined ? request : this.options.merge(d, request));
      return;
    }
    const p = this.pending.get(connection);
    this.pending.set(connection, p === undefined ? request : this.options.merge(p, request));
    this.pump();
  }

  /** Drop anything queued for a connection (it disconnected). */
  remove(connection: C): void {
    this.pending.delete(connection);
    this.deferred.delete(connection);
  }

  get size(): number {
    return this.pending.size + this.deferred.size;
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.active === 0 && this.pending.size === 0 && this.deferred.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
    this.deferred.clear();
    this.notifyIdle();
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.pending.size > 0) {
      const first = this.pending.entries().next().value as [C, R];
      const [connection, request] = first;
      this.pending.delete(connection);
      this.active++;
      this.inProgress.add(connection);
      void this.run(connection, request);
    }
    this.notifyIdle();
  }

  private async run(connection: C, request: R): Promise<void> {
    try {
      await this.options.process(connection, request);
    } catch (err) {
      this.options.onError?.(connection, err);
    } finally {
      this.processed++;
      this.active--;
      this.inProgress.delete(connection);
      const d = this.deferred.get(connection);
      if (d !== undefined) {
        this.deferred.delete(connection);
        if (!this.closed) {
          const p = this.pending.get(connection);
          this.pending.set(connection, p === undefined ? d : this.options.merge(p, d));
        }
      }
      this.pump();
    }
  }

  private notifyIdle(): void {
    if (this.active === 0 && this.pending.size === 0 && this.deferred.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
