import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { errorMessage } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';
import type { Logger } from '../lib/log.ts';
import { LogQueryError, parseLogQuery, streamLog } from './container-log-stream.ts';
import type { LogTimeline } from './log-timeline.ts';
import { httpError, KubeletStreaming, type StreamingBackend } from './kubelet-streaming.ts';

type Obj = Record<string, any>;

/** A container's log files as the kubelet API serves them. */
export interface LogSource {
  logFile: string;
  previousLogFile: string;
  /** When the lines were written (timestamps, since). */
  timeline?: LogTimeline | undefined;
  previousTimeline?: LogTimeline | undefined;
  isRunning(): boolean;
}

export interface KubeletServerOptions {
  api: KubeApi;
  nodeName: string;
  address: string;
  port: number;
  keyPem: string;
  certPem: string;
  /** Client certificates are checked against it (the API server's kubelet client certificate). */
  clientCa: string;
  /** A container of a pod on this node; a string says why there is none. */
  container(namespace: string, pod: string, container: string): LogSource | string;
  /** exec, attach and port-forward. */
  streaming: StreamingBackend;
  log: Logger;
}

const STREAMING = new Set(['exec', 'attach', 'portForward']);

/**
 * The kubelet's API (port 10250 by default) for what the API server proxies to it:
 * `/containerLogs/NS/POD/CONTAINER` (kubectl logs: tailLines, limitBytes, previous, follow,
 * timestamps, sinceSeconds, sinceTime) and
 * `/healthz`, and the streaming upgrades of exec, attach and port-forward (KubeletStreaming).
 * Clients authenticate with a certificate of the cluster CA and are authorized as the kubelet
 * does, with a SubjectAccessReview for `nodes/proxy` (or `nodes/log`, `nodes/healthz`). `/run`
 * (the legacy exec without streams) is answered 501 with a message.
 */
export class KubeletServer {
  private readonly o: KubeletServerOptions;
  private server: Server | undefined;
  private readonly streaming: KubeletStreaming;
  private readonly follows = new Set<() => void>();

  constructor(o: KubeletServerOptions) {
    this.o = o;
    this.streaming = new KubeletStreaming({ backend: o.streaming, log: o.log });
  }

  async start(): Promise<void> {
    const server = createServer({ key: this.o.keyPem, cert: this.o.certPem, ca: this.o.clientCa, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        this.o.log.warn({ path: req.url, err: errorMessage(err) }, 'kubelet API request failed');
        if (!res.headersSent) reply(res, 500, errorMessage(err));
        else res.destroy();
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      void this.upgrade(req, socket, head).catch((err: unknown) => {
        this.o.log.warn({ path: req.url, err: errorMessage(err) }, 'kubelet API upgrade failed');
        httpError(socket, 500, errorMessage(err));
      });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.o.port, this.o.address, () => resolve()));
    this.server = server;
    this.o.log.info({ address: `${this.o.address}:${this.o.port}` }, 'kubelet API listening (kubectl logs, exec, attach, port-forward)');
  }

  /** The client certificate's user, authorized for the request's node subresource; else the status and message. */
  private async admit(req: IncomingMessage, parts: string[]): Promise<{ status: number; message: string } | undefined> {
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) return { status: 401, message: 'Unauthorized: a client certificate of the cluster CA is required' };
    const peer = socket.getPeerCertificate();
    const user = String(peer.subject?.CN ?? '');
    const org = peer.subject?.O;
    const groups = Array.isArray(org) ? org.map(String) : org ? [String(org)] : [];
    const subresource = parts[0] === 'logs' ? 'log' : parts[0] === 'healthz' ? 'healthz' : 'proxy';
    const verb = req.method === 'GET' || req.method === 'HEAD' ? 'get' : req.method === 'POST' ? 'create' : req.method === 'PUT' ? 'update' : req.method === 'DELETE' ? 'delete' : 'patch';
    const allowed = await this.authorize(user, groups, verb, subresource);
    if (!allowed.ok) return { status: 403, message: `Forbidden (user=${user}, verb=${verb}, resource=nodes, subresource=${subresource}): ${allowed.reason}` };
    return undefined;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const denied = await this.admit(req, parts);
    if (denied) return httpError(socket, denied.status, denied.message);
    this.streaming.handle(req, socket, head, parts, url.searchParams);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const denied = await this.admit(req, parts);
    if (denied) return reply(res, denied.status, denied.message);

    if (parts[0] === 'healthz') return reply(res, 200, 'ok');
    if (STREAMING.has(parts[0] ?? '')) return reply(res, 400, `${parts[0]} needs an upgrade request (WebSocket, or SPDY/3.1 for port-forward)`);
    if (parts[0] === 'run') return reply(res, 501, `/run is not served by mizzen node ${this.o.nodeName}: use kubectl exec (streamed over WebSocket)`);
    if (parts[0] !== 'containerLogs' || parts.length !== 4) return reply(res, 404, `${url.pathname}: not found (mizzen node serves /containerLogs and /healthz)`);
    const [, namespace, pod, name] = parts as [string, string, string, string];
    let q;
    try {
      q = parseLogQuery(url.searchParams);
    } catch (err) {
      if (err instanceof LogQueryError) return reply(res, 400, err.message);
      throw err;
    }
    const c = this.o.container(namespace, pod, name);
    if (typeof c === 'string') return reply(res, 400, c);
    const file = q.previous ? c.previousLogFile : c.logFile;
    if (q.previous && !fileExists(file)) return reply(res, 400, `previous terminated container "${name}" in pod "${pod}" not found`);
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    let closed = false;
    res.on('close', () => (closed = true));
    const stop = streamLog(file, q, { write: (b) => res.write(b), end: () => res.end(), get closed() { return closed; } }, () => !q.previous && c.isRunning(), 250, q.previous ? c.previousTimeline : c.timeline);
    if (q.follow) {
      this.follows.add(stop);
      res.on('close', () => {
        stop();
        this.follows.delete(stop);
      });
    }
  }

  /** The kubelet's webhook authorization: a SubjectAccessReview for the node's subresource. */
  private async authorize(user: string, groups: string[], verb: string, subresource: string): Promise<{ ok: boolean; reason: string }> {
    const review = await this.o.api.request<Obj>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: { verb, resource: 'nodes', subresource, name: this.o.nodeName } } },
    });
    return { ok: review.status?.allowed === true, reason: String(review.status?.reason ?? review.status?.evaluationError ?? 'not allowed') };
  }

  /** A new serving certificate (rotation): new connections get it, open ones keep theirs. */
  setCertificate(keyPem: string, certPem: string): void {
    this.server?.setSecureContext({ key: keyPem, cert: certPem, ca: this.o.clientCa });
  }

  async close(): Promise<void> {
    for (const stop of this.follows) stop();
    this.streaming.close();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${message}\n`);
}

function fileExists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
