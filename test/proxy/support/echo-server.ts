import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoReply {
  server: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type EchoBehaviour = (req: http.IncomingMessage, body: string, count: number) => { status?: number; delayMs?: number; headers?: Record<string, string>; body?: string } | undefined;

/**
 * An upstream test app: replies with JSON describing the request it received (server name,
 * method, url, headers, body). `behaviour` can change status/delay per request.
 */
export class EchoServer {
  readonly name: string;
  readonly server: http.Server;
  port = 0;
  count = 0;
  behaviour: EchoBehaviour | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(name: string, behaviour?: EchoBehaviour, options: http.ServerOptions = {}) {
    this.name = name;
    this.behaviour = behaviour;
    this.server = http.createServer(options, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.count++;
        const body = Buffer.concat(chunks).toString();
        const b = this.behaviour?.(req, body, this.count);
        const reply: EchoReply = { server: this.name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        const send = (): void => {
          if (res.destroyed) return;
          const text = b?.body ?? JSON.stringify(reply);
          res.writeHead(b?.status ?? 200, { 'content-type': 'application/json', ...(b?.headers ?? {}) });
          res.end(text);
        };
        if (b?.delayMs) {
          const t = setTimeout(() => {
            this.timers.delete(t);
            send();
          }, b.delayMs);
          this.timers.add(t);
        } else send();
      });
    });
  }

  async start(host = '127.0.0.1'): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, host, r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
