import * as http2 from 'node:http2';
import { isIP } from 'node:net';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { GrpcClientStream, type GrpcHeaders, type CallMetadataSource, type GrpcStreamOptions } from './grpc-client-stream.ts';
import { GrpcStatus, type GrpcCallStatus } from './grpc-status.ts';

/** TLS to the server: verify against `rootCertPem`, optionally present a client certificate. */
export interface GrpcTlsOptions {
  rootCertPem: string;
  /** SNI and the name verified in the server certificate (default: the target host). */
  serverName?: string;
  clientKeyPem?: string;
  clientCertPem?: string;
}

export interface GrpcChannelOptions {
  /** `host:port`, `[v6]:port`, or `unix:PATH`. */
  target: string;
  /** TLS (ALPN h2); omitted → plaintext HTTP/2 with prior knowledge (h2c). */
  tls?: GrpcTlsOptions;
  /** :authority (default: the TLS server name, else the target). */
  authority?: string;
  /** Send a PING this often while calls are open; no ack within keepaliveTimeoutMs drops the connection. */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  /** Give up on a connection attempt after this long (default 20 s) → UNAVAILABLE. */
  connectTimeoutMs?: number;
  /** Default receive limit for calls (default 4 MiB). */
  maxReceiveMessageBytes?: number;
  userAgent?: string;
}

export interface GrpcUnaryOptions {
  metadata?: CallMetadataSource;
  deadlineMs?: number;
  maxReceiveMessageBytes?: number;
}

/** A unary call's outcome as a value: never a throw for a non-OK status. */
export interface GrpcUnaryResult {
  status: GrpcCallStatus;
  /** The response message (OK only). */
  message?: Buffer;
  headers: GrpcHeaders;
  trailers: GrpcHeaders;
}

/** Envoy's gRPC client windows: 256 MiB per stream and per connection. */
const WINDOW_BYTES = 256 * 1024 * 1024;

interface ParsedTarget {
  host: string;
  port: number;
  path?: string;
}

function parseTarget(target: string): ParsedTarget {
  const t = target.replace(/^dns:(\/\/\/)?/, '');
  if (t.startsWith('unix:')) return { host: 'localhost', port: 0, path: t.slice(5).replace(/^\/\/(?=\/)/, '') };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(t) ?? /^([^:]+):(\d+)$/.exec(t);
  if (!m) return { host: t, port: 443 };
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * A gRPC client channel over node:http2: one HTTP/2 connection, opened on the first call and
 * again on the next call after it died (callers own retry and backoff). Plaintext or TLS with
 * a root PEM and a server-name override; large flow-control windows; keepalive PINGs while calls
 * are open. Calls report their outcome as values (GrpcStreamStatus / GrpcUnaryResult).
 */
export class GrpcChannel {
  private readonly o: GrpcChannelOptions;
  private readonly target: ParsedTarget;
  private readonly authority: string;
  private readonly baseHeaders: http2.OutgoingHttpHeaders;
  private session: http2.ClientHttp2Session | undefined;
  private active = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(o: GrpcChannelOptions) {
    this.o = o;
    this.target = parseTarget(o.target);
    const hostPort = this.target.path !== undefined ? 'localhost' : this.target.host.includes(':') ? `[${this.target.host}]:${this.target.port}` : `${this.target.host}:${this.target.port}`;
    this.authority = o.authority ?? o.tls?.serverName ?? hostPort;
    this.baseHeaders = {
      ':method': 'POST',
      ':scheme': o.tls ? 'https' : 'http',
      ':authority': this.authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': o.userAgent ?? 'mizzen-grpc/0.1',
    };
  }

  /** Open a (bidirectional) streaming call. */
  openStream(path: string, options: GrpcStreamOptions = {}): GrpcClientStream {
    const o = { ...options, maxReceiveMessageBytes: options.maxReceiveMessageBytes ?? this.o.maxReceiveMessageBytes };
    return new GrpcClientStream(path, this.baseHeaders, (h) => this.startRequest(h), o);
  }

  /** One request message, one response message. */
  unary(path: string, request: Uint8Array, options: GrpcUnaryOptions = {}): Promise<GrpcUnaryResult> {
    return new Promise((resolve) => {
      let headers: GrpcHeaders = {};
      const messages: Buffer[] = [];
      const s = this.openStream(path, {
        metadata: options.metadata,
        deadlineMs: options.deadlineMs,
        maxReceiveMessageBytes: options.maxReceiveMessageBytes,
        onHeaders: (h) => (headers = h),
        onMessage: (m) => messages.push(m),
        onStatus: (st) => {
          const status: GrpcCallStatus = { code: st.code, message: st.message };
          if (st.code === GrpcStatus.OK && messages.length !== 1) {
            status.code = GrpcStatus.INTERNAL;
            status.message = messages.length === 0 ? 'no response message for a unary call' : 'more than one response message for a unary call';
          }
          resolve({ status, message: status.code === GrpcStatus.OK ? messages[0] : undefined, headers, trailers: st.trailers });
        },
      });
      s.write(request);
      s.end();
    });
  }

  /** Drop the connection; open calls end (UNAVAILABLE / CANCELLED) and later calls fail. */
  close(): void {
    this.closed = true;
    this.dropSession(this.session);
  }

  private startRequest(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream | Error {
    if (this.closed) return new Error('channel closed');
    for (let attempt = 0; attempt < 2; attempt++) {
      const session = this.connection();
      try {
        const req = session.request(headers, { endStream: false });
        this.track(session, req);
        return req;
      } catch (err) {
        // Closing or GOAWAY'd session: forget it and try a fresh one once.
        this.dropSession(session);
        if (attempt === 1) return err as Error;
      }
    }
    return new Error('unreachable');
  }

  private track(session: http2.ClientHttp2Session, req: http2.ClientHttp2Stream): void {
    if (this.active++ === 0) {
      session.ref();
      this.startKeepalive(session);
    }
    req.once('close', () => {
      if (this.session !== session) return;
      if (--this.active === 0) {
        session.unref();
        this.stopKeepalive();
      }
    });
  }

  private connection(): http2.ClientHttp2Session {
    const existing = this.session;
    if (existing && !existing.closed && !existing.destroyed) return existing;
    this.dropSession(existing);
    const t = this.target;
    const tlsOpts = this.o.tls;
    const createConnection = (): net.Socket => {
      if (!tlsOpts) return t.path !== undefined ? net.connect({ path: t.path }) : net.connect({ host: t.host, port: t.port });
      const name = tlsOpts.serverName ?? t.host;
      return tls.connect({
        ...(t.path !== undefined ? { path: t.path } : { host: t.host, port: t.port }),
        servername: isIP(name) ? undefined : name,
        ca: tlsOpts.rootCertPem,
        key: tlsOpts.clientKeyPem,
        cert: tlsOpts.clientCertPem,
        ALPNProtocols: ['h2'],
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
      });
    };
    const session = http2.connect(`${tlsOpts ? 'https' : 'http'}://${this.authority}`, {
      createConnection,
      settings: { initialWindowSize: WINDOW_BYTES, enablePush: false },
      maxSessionMemory: 512,
    });
    this.session = session;
    this.active = 0;
    const connectTimer = setTimeout(() => session.destroy(new Error(`connecting to ${this.o.target} timed out`)), this.o.connectTimeoutMs ?? 20_000);
    connectTimer.unref();
    session.once('connect', () => {
      clearTimeout(connectTimer);
      try {
        session.setLocalWindowSize(WINDOW_BYTES);
      } catch {
        // the session died right after connecting; its streams report it
      }
    });
    session.on('error', () => undefined); // each stream reports the failure as its status
    session.once('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.once('close', () => {
      clearTimeout(connectTimer);
      if (this.session === session) {
        this.session = undefined;
        this.stopKeepalive();
      }
    });
    session.unref();
    return session;
  }

  private dropSession(session: http2.ClientHttp2Session | undefined): void {
    if (!session) return;
    if (this.session === session) {
      this.session = undefined;
      this.stopKeepalive();
    }
    if (!session.destroyed) session.destroy();
  }

  private startKeepalive(session: http2.ClientHttp2Session): void {
    const every = this.o.keepaliveMs;
    if (every === undefined || this.keepaliveTimer) return;
    const timeoutMs = this.o.keepaliveTimeoutMs ?? 20_000;
    this.keepaliveTimer = setInterval(() => {
      if (session.destroyed || !session.socket) return;
      let acked = false;
      const watchdog = setTimeout(() => {
        if (!acked) session.destroy(new Error('keepalive ping not acknowledged'));
      }, timeoutMs);
      watchdog.unref();
      try {
        session.ping((err) => {
          acked = true;
          clearTimeout(watchdog);
          if (err && !session.destroyed) session.destroy(err);
        });
      } catch {
        clearTimeout(watchdog);
      }
    }, every);
    this.keepaliveTimer.unref();
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }
}
