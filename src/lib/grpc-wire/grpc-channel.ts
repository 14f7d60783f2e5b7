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

/** One HTTP/2 connection and what the channel tracks for it. */
interface Connection {
  session: http2.ClientHttp2Session;
  /** Open calls: the session is ref'd (keeps the process alive) and pinged only while > 0. */
  active: number;
  keepalive: NodeJS.Timeout | undefined;
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
  private conn: Connection | undefined;
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
    this.drop(this.conn);
  }

  private startRequest(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream | Error {
    if (this.closed) return new Error('channel closed');
    for (let attempt = 0; attempt < 2; attempt++) {
      const conn = this.connection();
      try {
        const req = conn.session.request(headers, { endStream: false });
        this.track(conn, req);
        return req;
      } catch (err) {
        // Closing or GOAWAY'd session: forget it and try a fresh one once.
        this.drop(conn);
        if (attempt === 1) return err as Error;
      }
    }
    return new Error('unreachable');
  }

  private track(conn: Connection, req: http2.ClientHttp2Stream): void {
    if (conn.active++ === 0) {
      conn.session.ref();
      this.startKeepalive(conn);
    }
    req.once('close', () => {
      if (--conn.active > 0) return;
      stopKeepalive(conn);
      if (!conn.session.destroyed) conn.session.unref();
    });
  }

  private connection(): Connection {
    const existing = this.conn;
    if (existing && !existing.session.closed && !existing.session.destroyed) return existing;
    this.drop(existing);
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
    const conn: Connection = { session, active: 0, keepalive: undefined };
    this.conn = conn;
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
      // Calls in flight finish on it; new calls go to a new connection.
      if (this.conn === conn) this.conn = undefined;
    });
    session.once('close', () => {
      clearTimeout(connectTimer);
      stopKeepalive(conn);
      if (this.conn === conn) this.conn = undefined;
    });
    session.unref();
    return conn;
  }

  private drop(conn: Connection | undefined): void {
    if (!conn) return;
    if (this.conn === conn) this.conn = undefined;
    stopKeepalive(conn);
    if (!conn.session.destroyed) conn.session.destroy();
  }

  private startKeepalive(conn: Connection): void {
    const every = this.o.keepaliveMs;
    if (every === undefined || conn.keepalive) return;
    const session = conn.session;
    const timeoutMs = this.o.keepaliveTimeoutMs ?? 20_000;
    conn.keepalive = setInterval(() => {
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
          // A ping cancelled because the session is already ending (our watchdog's destroy cancels the
          // pending pings synchronously) says nothing new: keep the cause that ended it.
          if (err && !session.destroyed && (err as NodeJS.ErrnoException).code !== 'ERR_HTTP2_PING_CANCEL') session.destroy(err);
        });
      } catch {
        clearTimeout(watchdog);
      }
    }, every);
    conn.keepalive.unref();
  }
}

function stopKeepalive(conn: Connection): void {
  if (conn.keepalive) clearInterval(conn.keepalive);
  conn.keepalive = undefined;
}
