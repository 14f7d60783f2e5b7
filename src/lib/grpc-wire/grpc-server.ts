import { createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream, type Settings } from 'node:http2';
import { createServer as createTcpServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { AlwaysReadingSocket } from './always-reading-socket.ts';
import { SessionReadKicker } from './session-read-kicker.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { GrpcMetadata } from './grpc-metadata.ts';
import { GrpcServerStream, type GrpcPeer } from './grpc-server-stream.ts';
import { AssemblyBuffer } from './grpc-message-framing.ts';
import { GrpcStatus, type GrpcCallStatus } from './grpc-status.ts';
import { parseGrpcTimeout } from './grpc-timeout.ts';

/** One unary call as its handler sees it. */
export interface GrpcUnaryCall {
  path: string;
  metadata: GrpcMetadata;
  peer: GrpcPeer;
  /** Aborted when the client cancels or the deadline passes (the status is then already sent). */
  signal: AbortSignal;
}

/** A unary handler's answer: the response message, or a status. */
export type GrpcUnaryReply = { response: Uint8Array } | { status: GrpcCallStatus };

export type GrpcUnaryHandler = (request: Buffer, call: GrpcUnaryCall) => GrpcUnaryReply | Promise<GrpcUnaryReply>;
/** Takes over a (bidi or client/server streaming) call; it must end the stream eventually. */
export type GrpcStreamHandler = (stream: GrpcServerStream) => void;

/** TLS for a listener; `onChange` lets a rotating certificate replace the context live. */
export interface GrpcServerTls {
  /** Current key, certificate chain and CAs trusted for client certificates. */
  contextOptions(): SecureContextOptions;
  /** Called when contextOptions() changed; returns an unsubscribe function. */
  onChange?(listener: () => void): () => void;
  /** Ask for a client certificate (optional for the client; verified against `ca`). Default true. */
  requestClientCertificate?: boolean;
}

export type GrpcListenTarget = { host: string; port: number } | { path: string };

export interface GrpcServerOptions {
  log?: Logger;
  clock?: Clock;
  /** Largest request message accepted (RESOURCE_EXHAUSTED beyond). Default 16 MiB. */
  maxReceiveMessageBytes?: number;
  /** HTTP/2 receive window per stream and per connection. Default 16 MiB. */
  windowBytes?: number;
}

interface Listener {
  /** Accepts the TCP (or TLS) connections; HTTP/2 runs over them in `h2`, which never listens. */
  server: NetServer | TlsServer;
  h2: Http2Server;
  sessions: Set<Http2Session>;
  /** Keeps its sessions reading while their writes wait (see SessionReadKicker). */
  kicker: SessionReadKicker;
  unsubscribe?: () => void;
}

type Route = { kind: 'unary'; handler: GrpcUnaryHandler } | { kind: 'stream'; handler: GrpcStreamHandler; transientMessages: boolean };

export interface GrpcStreamRouteOptions {
  /**
   * The handler consumes each 'message' buffer while the event runs and copies what it keeps:
   * messages spread over several DATA frames are then assembled in memory shared by the
   * server's streams, not in a new buffer each (see AssemblyBuffer).
   */
  transientMessages?: boolean;
}

/**
 * A gRPC server over node:http2, plaintext (h2c) or TLS (ALPN h2), on TCP or Unix sockets: routes
 * by `:path` to unary and streaming handlers, frames messages with grpc-message-framing, answers
 * unknown methods UNIMPLEMENTED (trailers-only), enforces content-type, grpc-timeout (unary) and
 * the receive size limit. One server may listen on several addresses (e.g. 15010 and 15012).
 */
export class GrpcServer {
  private readonly routes = new Map<string, Route>();
  private readonly listeners: Listener[] = [];
  private readonly log: Logger | undefined;
  private readonly clock: Clock;
  private readonly maxReceive: number;
  private readonly window: number;
  private readonly settings: Settings;
  /** Where streams of `transientMessages` routes assemble their messages (one at a time). */
  private readonly assembly = new AssemblyBuffer();

  constructor(options: GrpcServerOptions = {}) {
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.maxReceive = options.maxReceiveMessageBytes ?? 16 * 1024 * 1024;
    this.window = Math.min(options.windowBytes ?? 16 * 1024 * 1024, 2 ** 31 - 1);
    this.settings = { initialWindowSize: this.window, maxConcurrentStreams: 2 ** 32 - 1, enablePush: false };
  }

  addUnary(path: string, handler: GrpcUnaryHandler): void {
    this.addRoute(path, { kind: 'unary', handler });
  }

  addStream(path: string, handler: GrpcStreamHandler, options: GrpcStreamRouteOptions = {}): void {
    this.addRoute(path, { kind: 'stream', handler, transientMessages: options.transientMessages ?? false });
  }

  private addRoute(path: string, route: Route): void {
    if (this.routes.has(path)) throw new Error(`gRPC method ${path} registered twice`);
    this.routes.set(path, route);
  }

  /** Start listening; resolves with the bound address (`HOST:PORT` or `unix:PATH`). */
  async listen(target: GrpcListenTarget, tls?: GrpcServerTls): Promise<string> {
    const h2 = createServer({ settings: this.settings, maxSessionMemory: Number.MAX_SAFE_INTEGER });
    const sessions = new Set<Http2Session>();
    const unixPath = 'path' in target ? target.path : undefined;
    /** The socket under each session (peer address, client certificate). */
    const sockets = new WeakMap<Http2Session, Socket | TLSSocket>();
    let attaching: Socket | TLSSocket | undefined;
    const kicker = new SessionReadKicker();
    h2.on('session', (session: Http2Session) => {
      if (attaching) {
        sockets.set(session, attaching);
        kicker.add(session, attaching);
      }
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
      session.on('error', () => {});
      try {
        if (this.window > 65_535) session.setLocalWindowSize(this.window);
      } catch {
        // the connection died while being set up; its 'close' removes it
      }
    });
    h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      const session = stream.session;
      const socket = session ? sockets.get(session) : undefined;
      if (session) {
        kicker.streamOpened(session);
        stream.once('close', () => kicker.streamClosed(session));
      }
      this.onStream(stream, headers, peerOf(socket, tls !== undefined, unixPath));
    });
    h2.on('sessionError', () => {});
    // Sessions keep reading their socket while a write waits (SessionReadKicker on the native
    // stream; AlwaysReadingSocket, slower, where there is none): many busy streams on one
    // connection cannot deadlock against a Node client.
    const attach = (socket: Socket | TLSSocket): void => {
      socket.on('error', () => {});
      attaching = socket;
      try {
        h2.emit('connection', SessionReadKicker.canKick(socket) ? socket : new AlwaysReadingSocket(socket));
      } finally {
        attaching = undefined;
      }
    };
    let server: NetServer | TlsServer;
    if (tls) {
      server = createTlsServer(
        {
          ...tls.contextOptions(),
          ALPNProtocols: ['h2'],
          requestCert: tls.requestClientCertificate ?? true,
          // Unverified client certificates are not refused here; peer.certificate is set only for verified ones.
          rejectUnauthorized: false,
        },
        (socket: TLSSocket) => {
          // gRPC is HTTP/2 only (no HTTP/1 fallback): a client that did not negotiate h2 is dropped.
          if (socket.alpnProtocol !== 'h2') socket.destroy();
          else attach(socket);
        },
      );
      server.on('tlsClientError', () => {});
    } else {
      server = createTcpServer(attach);
    }
    const listener: Listener = { server, h2, sessions, kicker };
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        server.on('error', (err) => this.log?.warn({ err: err.message }, 'gRPC server error'));
        resolve();
      };
      if ('path' in target) server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
    if (tls?.onChange) {
      // A renewed certificate applies to new connections from then on.
      const secure = server as TlsServer;
      listener.unsubscribe = tls.onChange(() => secure.setSecureContext(tls.contextOptions()));
    }
    this.listeners.push(listener);
    if ('path' in target) return `unix:${target.path}`;
    const a = server.address() as AddressInfo;
    return `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /**
   * Stop accepting connections, send GOAWAY on every connection and let calls in flight finish;
   * after `graceMs` whatever is left is destroyed.
   */
  async close(graceMs = 5000): Promise<void> {
    const all = this.listeners.splice(0);
    for (const l of all) {
      l.unsubscribe?.();
      l.server.close();
      for (const s of l.sessions) if (!s.closed) s.close();
    }
    const open = (): boolean => all.some((l) => l.sessions.size > 0);
    if (!open()) return;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(() => {
        for (const l of all) for (const s of l.sessions) s.destroy();
        resolve();
      }, graceMs);
      const check = (): void => {
        if (open()) return;
        timer.cancel();
        resolve();
      };
      for (const l of all) for (const s of l.sessions) s.once('close', () => queueMicrotask(check));
    });
  }

  /** Destroy every connection and stop listening now. */
  forceClose(): void {
    for (const l of this.listeners.splice(0)) {
      l.unsubscribe?.();
      l.kicker.close();
      l.server.close();
      for (const s of l.sessions) s.destroy();
    }
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, peer: GrpcPeer): void {
    stream.on('error', () => {});
    if (headers[':method'] !== 'POST') {
      respondHttp(stream, 405);
      return;
    }
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !/^application\/grpc(?:$|[+;])/.test(contentType)) {
      respondHttp(stream, 415);
      return;
    }
    const path = headers[':path'] ?? '';
    const route = this.routes.get(path);
    const transient = route?.kind === 'stream' && route.transientMessages;
    const call = new GrpcServerStream({ stream, path, metadata: new GrpcMetadata(headers), peer, maxReceiveMessageBytes: this.maxReceive, ...(transient ? { assembly: this.assembly } : {}) });
    if (!route) {
      call.end(GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
      return;
    }
    const encoding = headers['grpc-encoding'];
    if (typeof encoding === 'string' && encoding !== 'identity') {
      call.end(GrpcStatus.UNIMPLEMENTED, `grpc-encoding ${encoding} is not supported`);
      return;
    }
    if (route.kind === 'stream') {
      try {
        route.handler(call);
      } catch (err) {
        this.log?.error({ path, err: (err as Error).message }, 'gRPC stream handler failed');
        call.end(GrpcStatus.INTERNAL, 'internal error');
      }
      return;
    }
    this.runUnary(call, route.handler, headers['grpc-timeout']);
  }

  private runUnary(call: GrpcServerStream, handler: GrpcUnaryHandler, timeoutHeader: string | string[] | undefined): void {
    const abort = new AbortController();
    let request: Buffer | undefined;
    let count = 0;
    const timeoutMs = typeof timeoutHeader === 'string' ? parseGrpcTimeout(timeoutHeader) : undefined;
    const deadline = timeoutMs === undefined ? undefined : this.clock.setTimer(() => {
      call.end(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded');
      abort.abort();
    }, timeoutMs);
    call.on('close', () => {
      deadline?.cancel();
      abort.abort();
    });
    call.on('message', (m: Buffer) => {
      request = m;
      if (++count > 1) call.end(GrpcStatus.UNIMPLEMENTED, 'received a second request message for a unary method');
    });
    call.on('end', () => {
      if (request === undefined) {
        call.end(GrpcStatus.UNIMPLEMENTED, 'received no request message for a unary method');
        return;
      }
      const info: GrpcUnaryCall = { path: call.path, metadata: call.metadata, peer: call.peer, signal: abort.signal };
      void (async () => handler(request, info))().then(
        (reply) => {
          if (call.ended) return;
          if ('response' in reply) {
            call.write([reply.response]);
            call.end(GrpcStatus.OK);
          } else {
            call.end(reply.status.code, reply.status.message);
          }
        },
        (err: unknown) => {
          this.log?.error({ path: call.path, err: (err as Error)?.message }, 'gRPC unary handler failed');
          call.end(GrpcStatus.INTERNAL, 'internal error');
        },
      );
    });
  }
}

function respondHttp(stream: ServerHttp2Stream, status: number): void {
  if (!stream.destroyed && !stream.headersSent) stream.respond({ ':status': status }, { endStream: true });
}

function peerOf(socket: Socket | TLSSocket | undefined, secure: boolean, unixPath: string | undefined): GrpcPeer {
  if (!socket) return { address: 'unknown' };
  const ip = socket.remoteAddress;
  const address = unixPath !== undefined || ip === undefined ? `unix:${unixPath ?? ''}` : `${ip.includes(':') ? `[${ip}]` : ip}:${socket.remotePort}`;
  if (!secure) return { address };
  const tls = socket as TLSSocket;
  if (!tls.authorized) return { address };
  const cert = tls.getPeerCertificate();
  return cert?.raw ? { address, certificate: cert.raw } : { address };
}
