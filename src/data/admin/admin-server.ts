import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.ts';

/** What the admin endpoints read and do; the proxy composition root implements it. */
export interface AdminSource {
  ready(): boolean;
  configDump(params: URLSearchParams): unknown;
  clustersText(json: boolean): string;
  statsText(): string;
  statsPrometheus(): string | Promise<string>;
  listenerList(): { name: string; address: string; port: number | undefined }[];
  setLogLevel(level: string, component: string | undefined): boolean;
  quit(): void;
  serverInfo(): unknown;
  /** Envoy's /certs view of the workload certificate and trust bundle (expiry). */
  certs?(): unknown;
}

/**
 * Envoy-like admin on 15000 (localhost): /config_dump, /clusters, /stats, /stats/prometheus,
 * /ready, /quitquitquit, /logging, /listeners, /server_info. Also serves /healthz/ready and
 * /stats/prometheus when bound as the 15021 / 15090 servers.
 */
export class AdminServer {
  private readonly server: http.Server;
  private readonly source: AdminSource;
  private readonly log: Logger;

  constructor(source: AdminSource, log: Logger) {
    this.source = source;
    this.log = log;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private sendPrometheus(send: (status: number, body: string, type?: string) => void): void {
    Promise.resolve(this.source.statsPrometheus()).then(
      (text) => send(200, text, 'text/plain; version=0.0.4'),
      (err: Error) => send(500, `metrics error: ${err.message}\n`),
    );
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, body: string, type = 'text/plain; charset=UTF-8'): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
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
          if (url.searchParams.get('format') === 'prometheus') return this.sendPrometheus(send);
          return send(200, this.source.statsText());
        case '/stats/prometheus':
          return this.sendPrometheus(send);
        case '/listeners':
          return send(200, `${JSON.stringify(this.source.listenerList(), null, 2)}\n`, 'application/json');
        case '/certs':
          return send(200, `${JSON.stringify(this.source.certs?.() ?? { certificates: [] }, null, 2)}\n`, 'application/json');
        case '/server_info':
          return send(200, `${JSON.stringify(this.source.serverInfo(), null, 2)}\n`, 'application/json');
        case '/logging': {
          if (req.method !== 'POST') return send(405, 'use POST /logging?level=LEVEL or ?COMPONENT=LEVEL\n');
          const level = url.searchParams.get('level');
          let ok = true;
          if (level) ok = this.source.setLogLevel(level, undefined);
          for (const [k, v] of url.searchParams) if (k !== 'level') ok = this.source.setLogLevel(v, k) && ok;
          return ok ? send(200, 'OK\n') : send(400, 'unknown log level (trace, debug, info, warn, error, fatal, silent)\n');
        }
        case '/quitquitquit':
          if (req.method !== 'POST') return send(405, 'use POST\n');
          send(200, 'OK\n');
          setImmediate(() => this.source.quit());
          return;
        default:
          return send(404, 'unknown admin endpoint; try /config_dump /clusters /stats /stats/prometheus /ready /listeners /logging /quitquitquit\n');
      }
    } catch (err) {
      this.log.error({ err }, 'admin request failed');
      send(500, `admin error: ${(err as Error).message}\n`);
    }
  }
}
