import { Session } from 'node:inspector';

/**
 * Coverage feedback from V8's own block coverage (the inspector's precise coverage with call
 * counts), so no instrumentation step is needed: after each run, the blocks of the watched
 * scripts that ran, each with its hit count bucketed as libFuzzer/AFL do (1, 2, 3, 4-7, 8-15,
 * 16-31, 32-127, 128+), are the run's features. Taking coverage resets the counters.
 */
export class BlockCoverage {
  private readonly session = new Session();
  private readonly watch: (url: string) => boolean;

  constructor(watch: (url: string) => boolean) {
    this.watch = watch;
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  /** Synchronous on the main thread: the inspector answers before post returns. */
  private post(method: string, params?: object): unknown {
    let result: unknown;
    let error: Error | null = null;
    this.session.post(method, params as never, (err, r) => {
      error = err;
      result = r;
    });
    if (error) throw error;
    return result;
  }

  /** Features since the last call (and reset the counters). */
  take(): string[] {
    const cov = this.post('Profiler.takePreciseCoverage') as { result: { url: string; functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[] };
    const out: string[] = [];
    for (const script of cov.result) {
      if (!this.watch(script.url)) continue;
      for (const f of script.functions) {
        for (const r of f.ranges) if (r.count > 0) out.push(`${script.url}:${r.startOffset}:${r.endOffset}:${bucket(r.count)}`);
      }
    }
    return out;
  }

  close(): void {
    try {
      this.post('Profiler.stopPreciseCoverage');
      this.post('Profiler.disable');
    } finally {
      this.session.disconnect();
    }
  }
}

function bucket(n: number): number {
  if (n <= 3) return n;
  if (n < 8) return 4;
  if (n < 16) return 8;
  if (n < 32) return 16;
  if (n < 128) return 32;
  return 128;
}
