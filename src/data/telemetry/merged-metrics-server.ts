import type { Logger } from '../../lib/log.ts';
import { PlainHttpServer, type PlainRequest, type PlainResponse } from '../admin/plain-http-server.ts';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text.ts';
import { runAppProbe, type AppProber } from './app-health-prober.ts';

/** Where the application's own metrics are (the pod's prometheus.io/port|path annotations). */
export interface AppScrapeTarget {
  port: number;
  path: string;
  host?: string;
}

/** Istio's scrape annotations (as ISTIO_PROMETHEUS_ANNOTATIONS / node metadata carry them) → a target. */
export function scrapeTargetOf(annotations: Record<string, string> | undefined): AppScrapeTarget | undefined {
  if (!annotations) return undefined;
  const get = (k: string): string | undefined => annotations[`prometheus.io/${k}`] ?? annotations[k];
  if (get('scrape') === 'false') return undefined;
  const port = Number(get('port'));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  const path = get('path') || '/metrics';
  return { port, path: path.startsWith('/') ? path : `/${path}` };
}

export interface MergedMetricsOptions {
  /** The proxy's own exposition (15090's content). */
  proxyMetrics: () => Promise<string> | string;
  app: AppScrapeTarget | undefined;
  log: Logger;
  /** Timeout of the app scrape. */
  timeoutMs?: number;
  /** ISTIO_KUBE_APP_PROBERS: `/app-health/...` paths → the app's original probes. */
  appProbers?: ReadonlyMap<string, AppProber>;
  /** The pod IP the app probes go to. */
  podIp?: string;
}

/**
 * The agent's 15020: `/app-health/...` (rewritten app probes, app-health-prober.ts) and `/stats/prometheus`: the proxy's own metrics followed by the application's
 * (scraped from localhost on each request), as Istio's metrics merging does; a failing app
 * scrape still returns the proxy's metrics (and counts `istio_agent_scrape_failures_total`).
 * Served by PlainHttpServer; node:http is loaded only to scrape an application, when there is one.
 */
export class MergedMetricsServer {
  private readonly server: PlainHttpServer;
  private readonly opts: MergedMetricsOptions;
  private failures = 0;

  constructor(opts: MergedMetricsOptions) {
    this.opts = opts;
    this.server = new PlainHttpServer((req) => this.handle(req), { onError: (err) => opts.log.error({ err }, 'merged metrics request failed') });
  }

  listen(host: string, port: number): Promise<number> {
    return this.server.listen(host, port);
  }

  close(): void {
    this.server.close();
  }

  private async handle(req: PlainRequest): Promise<PlainResponse> {
    const url = new URL(req.url, 'http://agent');
    if (url.pathname.startsWith('/app-health/')) {
      const prober = this.opts.appProbers?.get(url.pathname);
      if (!prober) return { status: 404, contentType: 'text/plain', body: `no app prober for ${url.pathname}\n` };
      const r = await runAppProbe(prober, this.opts.podIp ?? '127.0.0.1');
      return { status: r.status, contentType: 'text/plain', body: `${r.detail}\n` };
    }
    if (url.pathname !== '/stats/prometheus' && url.pathname !== '/metrics') return { status: 404, contentType: 'text/plain', body: 'try /stats/prometheus\n' };
    const [own, app] = await Promise.all([
      Promise.resolve().then(() => this.opts.proxyMetrics()).catch((err: Error) => `# proxy metrics unavailable: ${err.message}\n`),
      this.scrapeApp(),
    ]);
    const agent = `# TYPE istio_agent_scrape_failures_total counter\nistio_agent_scrape_failures_total ${this.failures}\n`;
    const body = `${own.endsWith('\n') ? own : `${own}\n`}${agent}${app}`;
    return { status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body };
  }

  private async scrapeApp(): Promise<string> {
    const t = this.opts.app;
    if (!t) return '';
    const http = await import('node:http');
    return new Promise((resolve) => {
      const req = http.get({ host: t.host ?? '127.0.0.1', port: t.port, path: t.path, timeout: this.opts.timeoutMs ?? 5000, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) {
            this.failures++;
            resolve('');
            return;
          }
          const text = Buffer.concat(chunks).toString();
          resolve(text.endsWith('\n') || text === '' ? text : `${text}\n`);
        });
        res.on('error', () => resolve(''));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        this.failures++;
        this.opts.log.debug({ err: err.message, port: t.port, path: t.path }, 'application metrics scrape failed');
        resolve('');
      });
    });
  }
}
