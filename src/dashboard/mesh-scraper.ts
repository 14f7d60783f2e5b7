import type { ConfigResource } from '../api/config-resource.ts';
import type { Logger } from '../lib/log.ts';
import { httpGet, type Dial } from './pod-http.ts';
import { trafficSnapshot } from './traffic-snapshot.ts';
import type { TrafficWindow } from './traffic-window.ts';

/** One endpoint to scrape: a pod annotated `prometheus.io/scrape: "true"`. */
export interface ScrapeTarget {
  /** `namespace/pod`. */
  key: string;
  ip: string;
  port: number;
  path: string;
}

/** Pods that Istio's Prometheus job would scrape, with the port and path their annotations give. */
export function scrapeTargetsOf(pods: readonly ConfigResource[]): ScrapeTarget[] {
  const out: ScrapeTarget[] = [];
  for (const p of pods) {
    const a = (p.metadata.annotations ?? {}) as Record<string, string>;
    const ip = (p.raw as { status?: { podIP?: string } }).status?.podIP;
    const port = Number(a['prometheus.io/port']);
    if (a['prometheus.io/scrape'] !== 'true' || !ip || !Number.isInteger(port) || port <= 0) continue;
    out.push({ key: `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`, ip, port, path: a['prometheus.io/path'] || '/metrics' });
  }
  return out;
}

export interface MeshScraperOptions {
  dial: Dial;
  targets: () => ScrapeTarget[];
  window: TrafficWindow;
  now: () => number;
  log: Logger;
  intervalMs?: number;
  /** Scraping stops this long after the last demand (nobody is looking). */
  idleMs?: number;
}

/**
 * Scrapes every proxy's merged metrics endpoint into the traffic window, every `intervalMs`
 * (2 s) but only while the dashboard is being looked at: `demand()` (each graph request) keeps
 * it going for `idleMs` (2 min). A mesh nobody looks at costs nothing.
 */
export class MeshScraper {
  private readonly o: MeshScraperOptions;
  private timer: NodeJS.Timeout | undefined;
  private lastDemand = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Per target: the last scrape's error, if it failed. */
  readonly failures = new Map<string, string>();

  constructor(o: MeshScraperOptions) {
    this.o = o;
  }

  /** Someone wants fresh numbers: scrape now if idle, and keep scraping for a while. */
  demand(): Promise<void> {
    this.lastDemand = this.o.now();
    if (this.closed) return Promise.resolve();
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 2000);
      return this.tick();
    }
    return Promise.resolve();
  }

  private tick(): Promise<void> {
    if (this.o.now() - this.lastDemand > (this.o.idleMs ?? 120_000)) {
      clearInterval(this.timer);
      this.timer = undefined;
      return Promise.resolve();
    }
    this.running ??= this.scrapeAll().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Scrape every target once, in parallel. */
  async scrapeAll(): Promise<void> {
    const targets = this.o.targets();
    this.o.window.retain(new Set(targets.map((t) => t.key)));
    await Promise.all(
      targets.map(async (t) => {
        try {
          const sent = this.o.now();
          const r = await httpGet(this.o.dial, t.ip, t.port, t.path, 1500);
          if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
          // the proxy read its counters somewhere between sending and answering
          this.o.window.add(t.key, (sent + this.o.now()) / 2, trafficSnapshot(r.body));
          this.failures.delete(t.key);
        } catch (err) {
          this.failures.set(t.key, (err as Error).message);
          this.o.log.debug({ target: t.key, err: (err as Error).message }, 'scrape failed');
        }
      }),
    );
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
