/**
 * Bounds the bytes of xDS responses handed to gRPC and not yet flushed, across all streams, so
 * a thousand proxies connecting at once (each owed megabytes of clusters and endpoints) queue
 * for the wire instead of all being serialized into memory at the same time. A response larger
 * than the whole budget still goes through, alone. Grants are first come, first served.
 */
export class WriteBudget {
  private readonly limit: number;
  private inFlight = 0;
  private readonly waiters: { bytes: number; grant: () => void }[] = [];

  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }

  /** Resolves when `bytes` may be written, with the function to call once they are flushed. */
  async acquire(bytes: number): Promise<() => void> {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.inFlight += bytes;
    } else {
      // wake() accounts for the bytes before granting.
      await new Promise<void>((grant) => this.waiters.push({ bytes, grant }));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= bytes;
      this.wake();
    };
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.limit;
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const next = this.waiters.shift()!;
      this.inFlight += next.bytes;
      next.grant();
    }
  }

  get bytesInFlight(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.waiters.length;
  }
}
