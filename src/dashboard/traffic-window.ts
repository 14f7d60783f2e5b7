import type { SeriesCounters, SeriesLabels } from './traffic-snapshot.ts';

/** One series' traffic over a window: per-second rates, and the histogram's bucket increases. */
export interface SeriesRates {
  labels: SeriesLabels;
  /** Requests per second. */
  requests: number;
  /** Increase of each cumulative duration bucket over the window (counts, by `le`). */
  durationBuckets: Map<number, number>;
  tcpSentPerSecond: number;
  tcpReceivedPerSecond: number;
  tcpOpenedPerSecond: number;
}

interface Snapshot {
  at: number;
  series: Map<string, SeriesCounters>;
}

/** A counter's increase from `a` to `b`, with a reset (b < a: the proxy restarted) counted as b. */
const increase = (a: number | undefined, b: number): number => (a === undefined || b < a ? b : b - a);

/**
 * Scrapes of each proxy over time, and rates over a trailing window as Prometheus' `rate()` would
 * give them without extrapolation: for each proxy the increase between its newest scrape and its
 * oldest one inside the window, divided by the time between them; a series absent from the older
 * scrape started inside the window (Istio's series appear with their first request). Rates of
 * all proxies are added per series.
 */
export class TrafficWindow {
  private readonly targets = new Map<string, Snapshot[]>();
  private readonly keepMs: number;

  constructor(keepMs = 5 * 60_000) {
    this.keepMs = keepMs;
  }

  /** Record one scrape of `target` (e.g. `ns/pod`) taken at `at` (ms). */
  add(target: string, at: number, series: Map<string, SeriesCounters>): void {
    let list = this.targets.get(target);
    if (!list) this.targets.set(target, (list = []));
    list.push({ at, series });
    while (list.length > 2 && list[0]!.at < at - this.keepMs) list.shift();
  }

  /** Forget proxies that are gone (pods removed). */
  retain(targets: ReadonlySet<string>): void {
    for (const t of this.targets.keys()) if (!targets.has(t)) this.targets.delete(t);
  }

  /** Rates over the last `windowMs` before `now`, by series key, summed over proxies. */
  rates(windowMs: number, now: number): Map<string, SeriesRates> {
    const out = new Map<string, SeriesRates>();
    for (const list of this.targets.values()) {
      const newest = list[list.length - 1];
      if (!newest || newest.at < now - windowMs) continue;
      const oldest = list.find((s) => s.at >= newest.at - windowMs);
      if (!oldest || oldest === newest) continue;
      const seconds = (newest.at - oldest.at) / 1000;
      for (const [key, c] of newest.series) {
        const before = oldest.series.get(key);
        let r = out.get(key);
        if (!r) out.set(key, (r = { labels: c.labels, requests: 0, durationBuckets: new Map(), tcpSentPerSecond: 0, tcpReceivedPerSecond: 0, tcpOpenedPerSecond: 0 }));
        r.requests += increase(before?.requests, c.requests) / seconds;
        r.tcpSentPerSecond += increase(before?.tcpSent, c.tcpSent) / seconds;
        r.tcpReceivedPerSecond += increase(before?.tcpReceived, c.tcpReceived) / seconds;
        r.tcpOpenedPerSecond += increase(before?.tcpOpened, c.tcpOpened) / seconds;
        for (const [le, n] of c.durationBuckets) r.durationBuckets.set(le, (r.durationBuckets.get(le) ?? 0) + increase(before?.durationBuckets.get(le), n));
      }
    }
    return out;
  }
}

/**
 * `histogram_quantile` over cumulative bucket increases: linear interpolation inside the bucket
 * that holds the q-th observation (the +Inf bucket answers with the highest finite bound).
 * Undefined when nothing was observed.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  if (bounds.length === 0) return undefined;
  const total = buckets.get(bounds[bounds.length - 1]!) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of bounds) {
    const count = buckets.get(b) ?? 0;
    if (count >= rank) {
      if (b === Infinity) return prevBound;
      if (count === prevCount) return b;
      return prevBound + ((b - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = b;
    prevCount = count;
  }
  return prevBound;
}
