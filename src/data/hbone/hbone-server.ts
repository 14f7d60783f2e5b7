import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../lib/log.ts';
import { peerIdentity } from './peer-identity.ts';
import { CONNECTION_WINDOW, HBONE_SETTINGS, type HboneCredentials } from './hbone-settings.ts';
import { parseHostPort } from './hbone-headers.ts';

/**
 * The HBONE server side (ztunnel's inbound 15008): mutual TLS 1.3 with the destination's own
 * certificate (ALPN h2, a client certificate from the mesh required), HTTP/2, CONNECT only. Each
 * accepted CONNECT is handed over with the peer's SPIFFE identity; the handler answers it
 * (`accept` after its upstream connected, or `reject` with 400/401/503 as ztunnel does).
 * Anything but CONNECT, or an authority that is not `IP:PORT`, gets 400 here.
 */
export interface HboneRequest {
  authority: string;
  target: { host: string; port: number };
  headers: IncomingHttpHeaders;
  /** The client's SPIFFE identity (from its verified certificate). */
  peerIdentity: string | undefined;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  stream: ServerHttp2Stream;
}

export interface HboneServerOptions {
  credentials: HboneCredentials;
  onRequest: (req: HboneRequest) => void;
  log: Logger;
}

export class HboneServer {
  private readonly server: Http2SecureServer;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly log: Logger;
  private closed = false;

  constructor(o: HboneServerOptions) {
    this.log = o.log;
    this.server = createSecureServer({
      cert: o.credentials.certChainPem,
      key: o.credentials.privateKeyPem,
      ca: o.credentials.rootCertPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      settings: HBONE_SETTINGS,
      allowHTTP1: false,
    });
    this.server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', (err) => this.log.debug({ err: err.message }, 'HBONE connection error'));
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW);
      } catch {
        // the session may already be closing
      }
    });
    this.server.on('tlsClientError', (err, socket) => {
      this.log.debug({ err: err.message, peer: socket.remoteAddress }, 'HBONE TLS handshake refused');
    });
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      stream.on('error', () => {});
      const method = headers[':method'];
      const authority = headers[':authority'] ?? '';
      const target = parseHostPort(authority);
      if (method !== 'CONNECT' || !target) {
        this.log.debug({ method, authority }, 'HBONE request refused (CONNECT to IP:PORT only)');
        respondError(stream, 400);
        return;
      }
      const socket = stream.session?.socket as TLSSocket | undefined;
      if (!socket) return;
      o.onRequest({
        authority,
        target,
        headers,
        peerIdentity: peerIdentity(socket),
        remoteAddress: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
        remotePort: socket.remotePort ?? 0,
        localAddress: (socket.localAddress ?? '').replace(/^::ffff:/, ''),
        localPort: socket.localPort ?? 0,
        stream,
      });
    });
  }

  /** Serve on a listening socket (an fd made in the pod's namespace, or a port for tests). */
  listen(where: { fd: number } | { port: number; host?: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(where, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      });
    });
  }

  /** A rotated certificate: new connections use it, open ones keep theirs. */
  updateCredentials(c: HboneCredentials): void {
    this.server.setSecureContext({ cert: c.certChainPem, key: c.privateKeyPem, ca: c.rootCertPem, minVersion: 'TLSv1.3' });
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** Stop accepting; open tunnels are told to finish (GOAWAY) and cut after `graceMs`. */
  close(graceMs = 0): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    for (const s of this.sessions) {
      if (graceMs > 0) {
        s.close();
        setTimeout(() => s.destroy(), graceMs).unref();
      } else s.destroy();
    }
  }
}

/** Answer a CONNECT with an error status and end the stream. */
export function respondError(stream: ServerHttp2Stream, status: number): void {
  if (stream.destroyed || stream.closed) return;
  try {
    if (!stream.headersSent) stream.respond({ ':status': status }, { endStream: true });
    else stream.close();
  } catch {
    stream.destroy();
  }
}
