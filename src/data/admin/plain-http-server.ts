import * as net from 'node:net';
import { findHeadEnd, parseRequestHead, reasonPhrase } from '../http1/head-parser.ts';

/** One request to a PlainHttpServer: what the admin endpoints read. */
export interface PlainRequest {
  method: string;
  /** Request target as sent (`/stats?format=json`). */
  url: string;
}

/** A complete response: status, content type and body (content-length is set). */
export interface PlainResponse {
  status: number;
  contentType: string;
  body: string;
}

export type PlainHandler = (req: PlainRequest) => PlainResponse | Promise<PlainResponse>;

const MAX_HEAD = 64 * 1024;
const MAX_BODY = 64 * 1024;

/**
 * A small HTTP/1.1 server for the proxy's own endpoints (admin 15000, readiness 15021, Prometheus
 * 15090, merged metrics 15020): complete requests in, complete responses out, keep-alive with an
 * idle timeout, requests on one connection answered in order. It parses with the data plane's
 * HTTP/1.1 head parser, so the proxy does not load node:http for them (measured ~3 MB of RSS).
 * Bodies are read (Content-Length, up to 64 KiB) and ignored; chunked request bodies are refused.
 */
export class PlainHttpServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly handler: PlainHandler;
  private readonly idleMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(handler: PlainHandler, opts: { idleTimeoutMs?: number; onError?: (err: unknown) => void } = {}) {
    this.handler = handler;
    this.idleMs = opts.idleTimeoutMs ?? 5000;
    this.onError = opts.onError ?? (() => undefined);
    this.server = net.createServer((s) => this.connection(s));
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private connection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleMs, () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let busy = false;
    let closing = false;
    const reply = (status: number, contentType: string, body: string, close: boolean, headOnly = false): void => {
      if (socket.destroyed) return;
      const b = Buffer.from(body);
      socket.write(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: ${contentType}\r\ncontent-length: ${b.length}\r\n${close ? 'connection: close\r\n' : ''}\r\n`);
      if (headOnly) {
        if (close) socket.end();
      } else if (close) socket.end(b);
      else socket.write(b);
    };
    const next = (): void => {
      while (!busy && !closing) {
        const end = findHeadEnd(buf);
        if (end < 0) {
          if (buf.length > MAX_HEAD) {
            closing = true;
            reply(431, 'text/plain', 'request head too large\n', true);
          }
          return;
        }
        const head = parseRequestHead(buf, end);
        if ('error' in head) {
          closing = true;
          reply(head.status, 'text/plain', `bad request: ${head.error}\n`, true);
          return;
        }
        const te = head.headers.get('transfer-encoding');
        const length = Number(head.headers.get('content-length') ?? '0');
        if (te !== undefined || !Number.isInteger(length) || length < 0 || length > MAX_BODY) {
          closing = true;
          reply(te !== undefined ? 411 : 413, 'text/plain', 'request bodies must have a content-length of at most 64 KiB\n', true);
          return;
        }
        if (buf.length < end + length) return;
        buf = buf.subarray(end + length);
        const conn = head.headers.get('connection')?.toLowerCase() ?? '';
        const close = head.versionMinor === 0 ? !conn.includes('keep-alive') : conn.includes('close');
        if (close) closing = true;
        busy = true;
        const done = (r: PlainResponse): void => {
          busy = false;
          reply(r.status, r.contentType, r.body, close, head.method === 'HEAD');
          next();
        };
        try {
          Promise.resolve(this.handler({ method: head.method, url: head.target })).then(done, (err: unknown) => {
            this.onError(err);
            done({ status: 500, contentType: 'text/plain', body: `error: ${(err as Error)?.message ?? String(err)}\n` });
          });
        } catch (err) {
          this.onError(err);
          done({ status: 500, contentType: 'text/plain', body: `error: ${(err as Error)?.message ?? String(err)}\n` });
        }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      next();
    });
  }
}
