import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import type protobuf from 'protobufjs';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.ts';
import { MizzenError, errorMessage } from '../../lib/errors.ts';
import type { ConnectionRegistry } from '../xds/connection-registry.ts';
import type { XdsConnection } from '../xds/xds-connection.ts';
import { configDump } from './config-dump.ts';
import { syncStatus } from './sync-status.ts';
import { parseListenAddress, type ListenAddress } from './listen-address.ts';

export interface DebugServerOptions {
  /** `HOST:PORT`, `:PORT`, or a Unix socket path (`unix:/path` or `/path`). */
  address: string;
  root: protobuf.Root;
  connections: ConnectionRegistry;
  metrics: Registry;
  log: Logger;
  ready(): boolean;
  /** Shown as the ISTIOD column of proxy-status. */
  controlPlaneId?: string;
  /** /debug/registryz body. */
  registryz(): unknown;
  /** /debug/configz body (resources in force and config errors). */
  configz(): unknown;
  /** POST /debug/whatif: what a change would do to each proxy's xDS (mizzen diff). */
  whatIf?(body: unknown): unknown;
}

/** Discovery's HTTP side (port 15014): metrics, readiness and Istio's debug endpoints. */
export class DebugServer {
  private readonly o: DebugServerOptions;
  private server: Server | undefined;
  private listen: ListenAddress | undefined;
  boundAddress = '';

  constructor(options: DebugServerOptions) {
    this.o = options;
  }

  async start(): Promise<string> {
    const listen = parseListenAddress(this.o.address, 15014);
    this.listen = listen;
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    if (listen.path) rmSync(listen.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new MizzenError('USAGE', `cannot listen on ${this.o.address} for the debug/metrics server: ${err.message}`, { hint: err.code === 'EADDRINUSE' ? 'is another discovery running? use --http-addr' : undefined, cause: err })),
      );
      if (listen.path) server.listen(listen.path, resolve);
      else server.listen(listen.port, listen.host, resolve);
    });
    const a = server.address();
    this.boundAddress = typeof a === 'string' ? a : a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : '';
    return this.boundAddress;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    if (this.listen?.path) rmSync(this.listen.path, { force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://discovery');
    try {
      switch (url.pathname) {
        case '/ready':
          return this.o.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
        case '/metrics':
          return text(res, 200, await this.o.metrics.metrics(), this.o.metrics.contentType);
        case '/debug/syncz':
          return json(res, 200, envoyStreams(this.o.connections.list()).map((c) => syncStatus(c, this.o.controlPlaneId)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
        case '/debug/config_dump': {
          const id = url.searchParams.get('proxyID');
          if (!id) return json(res, 400, { error: 'proxyID query parameter is required (POD.NAMESPACE or the full node ID)' });
          const conns = this.o.connections.find(id);
          if (conns.length === 0) return json(res, 404, { error: `proxy ${id} is not connected` });
          const streams = envoyStreams(conns);
          return json(res, 200, configDump(this.o.root, streams[streams.length - 1]!));
        }
        case '/debug/registryz':
          return json(res, 200, this.o.registryz());
        case '/debug/configz':
          return json(res, 200, this.o.configz());
        case '/debug/whatif': {
          if (req.method !== 'POST' || !this.o.whatIf) return json(res, 405, { error: 'POST a change: {"files": [{"file", "text"}], "namespace"?}' });
          return json(res, 200, this.o.whatIf(await readJson(req)));
        }
        case '/debug':
        case '/':
          return json(res, 200, { controlPlane: this.o.controlPlaneId, endpoints: ['/ready', '/metrics', '/debug/syncz', '/debug/config_dump?proxyID=', '/debug/registryz', '/debug/configz'] });
        default:
          return json(res, 404, { error: `no such endpoint ${url.pathname}` });
      }
    } catch (err) {
      this.o.log.error({ path: url.pathname, err: errorMessage(err) }, 'debug endpoint failed');
      return json(res, 500, { error: errorMessage(err) });
    }
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 16 * 1024 * 1024) throw new MizzenError('USAGE', 'request body over 16 MiB');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function text(res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'content-type': type });
  res.end(body);
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

/**
 * One stream per proxy for the debug views: a waypoint also reads the workload API over a second
 * stream of the same node id; its Envoy stream is the one that describes it (istiod has one).
 */
function envoyStreams(conns: readonly XdsConnection[]): XdsConnection[] {
  const envoy = (c: XdsConnection): boolean => [...c.watched.keys()].some((t) => t.startsWith('type.googleapis.com/envoy.'));
  const withEnvoy = new Set(conns.filter(envoy).map((c) => c.proxy.id));
  return conns.filter((c) => envoy(c) || !withEnvoy.has(c.proxy.id) || c.proxy.type !== 'waypoint');
}
