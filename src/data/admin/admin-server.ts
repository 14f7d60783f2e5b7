import type { Logger } from '../../lib/log.ts';
import { PlainHttpServer, type PlainRequest, type PlainResponse } from './plain-http-server.ts';

/** What the admin endpoints read and do; the proxy composition root implements it. */
export interface AdminSource {
  ready(): boolean;
  configDump(params: URLSearchParams): unknown;
  clustersText(json: boolean): string;
  statsText(): string;
  statsPrometheus(): string | Promise<string>;
  listenerList(): { name: string; address: string; port: number | undefined }[];
  setLogLevel(level: string, component: string | undefined): boolean;
  /** Loggers and their levels (Envoy's /logging list). */
  logLevels?(): Record<string, string>;
  quit(): void;
  /** POST /drain_listeners: close the listeners (inbound ones only with `inboundOnly`); how many closed. */
  drainListeners(inboundOnly: boolean): number;
  serverInfo(): unknown;
  /** Envoy's /certs view of the workload certificate and trust bundle (expiry). */
  certs?(): unknown;
}

/**
 * Envoy-like admin on 15000 (localhost): /config_dump, /clusters, /stats, /stats/prometheus,
 * /ready, /drain_listeners, /quitquitquit, /logging, /listeners, /server_info. Also serves /healthz/ready and
 * /stats/prometheus when bound as the 15021 / 15090 servers. HTTP/1.1 through PlainHttpServer
 * (no node:http in the proxy).
 */
export class AdminServer {
  private readonly server: PlainHttpServer;
  private readonly source: AdminSource;
  private readonly log: Logger;

  constructor(source: AdminSource, log: Logger) {
    this.source = source;
    this.log = log;
    this.server = new PlainHttpServer((req) => this.handle(req), { idleTimeoutMs: 5000, onError: (err) => log.error({ err }, 'admin request failed') });
  }

  listen(host: string, port: number): Promise<number> {
    return this.server.listen(host, port);
  }

  close(): void {
    this.server.close();
  }

  private async prometheus(): Promise<PlainResponse> {
    try {
      return { status: 200, contentType: 'text/plain; version=0.0.4', body: await this.source.statsPrometheus() };
    } catch (err) {
      return { status: 500, contentType: 'text/plain; charset=UTF-8', body: `metrics error: ${(err as Error).message}\n` };
    }
  }

  private handle(req: PlainRequest): PlainResponse | Promise<PlainResponse> {
    const url = new URL(req.url, 'http://admin');
    const send = (status: number, body: string, contentType = 'text/plain; charset=UTF-8'): PlainResponse => ({ status, contentType, body });
    try {
      switch (url.pathname) {
        case '/ready':
          return this.source.ready() ? send(200, 'LIVE\n') : send(503, 'PRE_INITIALIZING\n');
        case '/healthz/ready':
          return this.source.ready() ? send(200, '') : send(503, 'not ready: waiting for the first configuration from discovery\n');
        case '/config_dump':
          return send(200, `${JSON.stringify(this.source.configDump(url.searchParams), null, 2)}\n`, 'application/json');
        case '/clusters':
          return url.searchParams.get('format') === 'json' ? send(200, this.source.clustersText(true), 'application/json') : send(200, this.source.clustersText(false));
        case '/stats':
          if (url.searchParams.get('format') === 'prometheus') return this.prometheus();
          return send(200, this.source.statsText());
        case '/stats/prometheus':
          return this.prometheus();
        case '/listeners':
          return send(200, `${JSON.stringify(this.source.listenerList(), null, 2)}\n`, 'application/json');
        case '/certs':
          return send(200, `${JSON.stringify(this.source.certs?.() ?? { certificates: [] }, null, 2)}\n`, 'application/json');
        case '/server_info':
          return send(200, `${JSON.stringify(this.source.serverInfo(), null, 2)}\n`, 'application/json');
        case '/logging': {
          // Envoy: POST changes levels (level=L for all, COMPONENT=L for one); both list the loggers.
          if (req.method !== 'POST' && url.search) return send(405, 'use POST /logging?level=LEVEL or ?COMPONENT=LEVEL\n');
          let ok = true;
          if (req.method === 'POST') {
            const level = url.searchParams.get('level');
            if (level) ok = this.source.setLogLevel(level, undefined);
            for (const [k, v] of url.searchParams) if (k !== 'level') ok = this.source.setLogLevel(v, k) && ok;
          }
          if (!ok) return send(400, 'unknown log level (trace, debug, info, warn, error, fatal, silent)\n');
          const levels = this.source.logLevels?.() ?? {};
          return send(200, `active loggers:\n${Object.entries(levels).map(([k, v]) => `  ${k}: ${v}\n`).join('')}`);
        }
        case '/drain_listeners': {
          if (req.method !== 'POST') return send(405, 'use POST\n');
          this.source.drainListeners(url.searchParams.has('inboundonly'));
          return send(200, 'OK\n');
        }
        case '/quitquitquit':
          if (req.method !== 'POST') return send(405, 'use POST\n');
          setImmediate(() => this.source.quit());
          return send(200, 'OK\n');
        default:
          return send(404, 'unknown admin endpoint; try /config_dump /clusters /stats /stats/prometheus /ready /listeners /logging /drain_listeners /quitquitquit\n');
      }
    } catch (err) {
      this.log.error({ err }, 'admin request failed');
      return send(500, `admin error: ${(err as Error).message}\n`);
    }
  }
}
