import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GrpcServerTls } from '../lib/grpc-wire/grpc-server.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { admissionResponse, parseAdmissionReview, type AdmissionRequest, type AdmissionResponse } from './admission-review.ts';

export type AdmissionHandler = (request: AdmissionRequest) => AdmissionResponse | Promise<AdmissionResponse>;

export interface WebhookServerOptions {
  /** Serving certificate (for istiod.istio-system.svc), renewed live. */
  tls: GrpcServerTls;
  /** Path → handler: `/validate`, `/inject`, `/inject/...`. */
  routes: ReadonlyMap<string, AdmissionHandler>;
  log: Logger;
  /** Called after each answered review (the validation patcher waits for the first). */
  onAnswered?: (path: string, response: AdmissionResponse) => void;
}

const MAX_BODY = 8 * 1024 * 1024;

/**
 * istiod's webhook port (15017): HTTPS, AdmissionReview v1 in and out. `/ready` answers 200 for
 * probes. Handlers are matched by path prefix (`/inject/cluster/c/net/n` goes to `/inject`).
 */
export class WebhookServer {
  private readonly o: WebhookServerOptions;
  private server: Server | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(options: WebhookServerOptions) {
    this.o = options;
  }

  async listen(host: string, port: number): Promise<string> {
    const server = createServer({ ...this.o.tls.contextOptions(), requestCert: false }, (req, res) => void this.handle(req, res));
    this.server = server;
    this.unsubscribe = this.o.tls.onChange?.(() => server.setSecureContext({ ...this.o.tls.contextOptions() }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  private route(path: string): AdmissionHandler | undefined {
    for (const [prefix, h] of this.o.routes) if (path === prefix || path.startsWith(`${prefix}/`)) return h;
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready' || path === '/healthz') return void res.writeHead(200).end('ok');
    const handler = this.route(path);
    if (!handler) return void res.writeHead(404, { 'content-type': 'text/plain' }).end(`no webhook at ${path}\n`);
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return void res.writeHead(413).end('AdmissionReview too large\n');
      chunks.push(c as Buffer);
    }
    const parsed = parseAdmissionReview(Buffer.concat(chunks).toString('utf8'));
    if ('error' in parsed) return void res.writeHead(400, { 'content-type': 'text/plain' }).end(`${parsed.error}\n`);
    let response: AdmissionResponse;
    try {
      response = await handler(parsed.review.request);
    } catch (err) {
      this.o.log.error({ path, err: errorMessage(err) }, 'webhook handler failed');
      response = { uid: parsed.review.request.uid, allowed: false, status: { code: 500, message: `internal error in ${path}: ${errorMessage(err)}` } };
    }
    this.o.onAnswered?.(path, response);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(admissionResponse(parsed.review, response)));
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
