import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import type { Logger } from '../../lib/log.ts';
import { reasonPhrase } from '../http1/head-parser.ts';
import { spiffeSans } from './peer-identity.ts';
import { CONNECTION_WINDOW, HBONE_SETTINGS, MAX_STREAMS_PER_CONNECTION, POOL_UNUSED_RELEASE_MS, type HboneCredentials } from './hbone-settings.ts';

/**
 * The HBONE client side: HTTP/2 CONNECT streams over pooled mutual-TLS connections, keyed as
 * ztunnel keys them ({source identity, destination identities, destination address, source
 * IP}): a stream reuses a connection of the same key with fewer than 100 streams, else a new
 * connection is made. The destination must present one of the expected SPIFFE identities (no
 * SNI is sent; the chain must lead to the mesh root). A connection unused for 5 minutes closes.
 */
export interface HboneDestination {
  sourceIdentity: string;
  /** Identities the destination may present (its workload's, or a waypoint's). */
  expectedIdentities: readonly string[];
  address: string;
  port: number;
  sourceAddress: string;
  credentials: HboneCredentials;
  /** A raw TCP socket connecting to address:port (created where the source lives). */
  connectSocket: () => Socket;
}

export type HboneFailure = 'CONNECT' | 'TLS_FAILURE' | 'IDENTITY_ERROR' | 'H2_HANDSHAKE_FAILURE' | 'REFUSED';

export class HboneError extends Error {
  readonly flag: HboneFailure;
  /** The HTTP status the destination answered with, when it answered. */
  readonly status: number | undefined;
  constructor(flag: HboneFailure, message: string, status?: number) {
    super(message);
    this.flag = flag;
    this.status = status;
  }
}

export interface HboneTunnel {
  stream: ClientHttp2Stream;
  responseHeaders: IncomingHttpHeaders;
  /** The identity the destination presented. */
  peerIdentity: string | undefined;
}

interface PooledConnection {
  session: ClientHttp2Session;
  streams: number;
  ready: Promise<void>;
  peerIdentity: string | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

export class HbonePool {
  private readonly pools = new Map<string, PooledConnection[]>();
  private readonly log: Logger;
  private closed = false;
  /** Counters for tests and metrics. */
  connectionsOpened = 0;

  constructor(o: { log: Logger }) {
    this.log = o.log;
  }

  static key(d: HboneDestination): string {
    return `${d.sourceAddress}(${d.sourceIdentity})->${d.address}:${d.port}[${[...d.expectedIdentities].sort().join(',')}]`;
  }

  /** Open a tunnel: CONNECT `authority` with `headers`; resolves once the destination answered 200. */
  async open(d: HboneDestination, authority: string, headers: OutgoingHttpHeaders): Promise<HboneTunnel> {
    if (this.closed) throw new HboneError('CONNECT', 'HBONE pool closed');
    const key = HbonePool.key(d);
    let conn = this.pools.get(key)?.find((c) => c.streams < MAX_STREAMS_PER_CONNECTION && !c.session.closed && !c.session.destroyed);
    if (!conn) conn = this.connect(key, d);
    conn.streams++;
    if (conn.idleTimer) {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = undefined;
    }
    const c = conn;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      c.streams--;
      if (c.streams === 0 && !c.session.destroyed) {
        c.idleTimer = setTimeout(() => c.session.close(), POOL_UNUSED_RELEASE_MS);
        c.idleTimer.unref();
      }
    };
    try {
      await c.ready;
    } catch (err) {
      release();
      throw err;
    }
    let stream: ClientHttp2Stream;
    try {
      stream = c.session.request({ ':method': 'CONNECT', ':authority': authority, ...headers }, { endStream: false });
    } catch (err) {
      release();
      throw new HboneError('CONNECT', `HBONE CONNECT to ${d.address}:${d.port} failed: ${(err as Error).message}`);
    }
    stream.once('close', release);
    return new Promise<HboneTunnel>((resolve, reject) => {
      const onError = (err: Error): void => reject(new HboneError('CONNECT', `HBONE stream to ${d.address}:${d.port} failed: ${err.message}`));
      stream.once('error', onError);
      stream.once('close', () => reject(new HboneError('CONNECT', `HBONE stream to ${d.address}:${d.port} closed before a response (code ${stream.rstCode})`)));
      stream.once('response', (h: IncomingHttpHeaders) => {
        stream.off('error', onError);
        stream.on('error', () => {});
        const status = Number(h[':status']);
        if (status === 200) resolve({ stream, responseHeaders: h, peerIdentity: c.peerIdentity });
        else {
          stream.close(constants.NGHTTP2_CANCEL);
          // ztunnel's text for it (Error::HttpStatus), which its access log carries as `error`
          reject(new HboneError('REFUSED', `http status: ${status} ${reasonPhrase(status)}`, status));
        }
      });
    });
  }

  private connect(key: string, d: HboneDestination): PooledConnection {
    this.connectionsOpened++;
    let peer: string | undefined;
    let failure: HboneError | undefined;
    const session = h2connect(`https://${d.address.includes(':') ? `[${d.address}]` : d.address}:${d.port}`, {
      settings: HBONE_SETTINGS,
      createConnection: () =>
        tlsConnect({
          socket: d.connectSocket(),
          host: d.address,
          cert: d.credentials.certChainPem,
          key: d.credentials.privateKeyPem,
          ca: d.credentials.rootCertPem,
          minVersion: 'TLSv1.3',
          ALPNProtocols: ['h2'],
          rejectUnauthorized: true,
          checkServerIdentity: (_host: string, cert: PeerCertificate) => {
            const ids = spiffeSans(cert);
            peer = ids[0];
            if (d.expectedIdentities.length > 0 && !ids.some((id) => d.expectedIdentities.includes(id))) {
              failure = new HboneError('IDENTITY_ERROR', `HBONE peer ${d.address}:${d.port} presented ${ids.join(', ') || 'no SPIFFE identity'}, expected ${d.expectedIdentities.join(' or ')}`);
              return failure;
            }
            return undefined;
          },
        }),
    });
    const conn: PooledConnection = { session, streams: 0, peerIdentity: undefined, idleTimer: undefined, ready: Promise.resolve() };
    conn.ready = new Promise<void>((resolve, reject) => {
      session.once('connect', () => {
        conn.peerIdentity = peer;
        try {
          session.setLocalWindowSize(CONNECTION_WINDOW);
        } catch {
          // closing already
        }
        resolve();
      });
      session.once('error', (err: Error & { code?: string }) => {
        const tls = /certificate|SSL|TLS|handshake|alert/i.test(err.message) || err.code?.startsWith('ERR_SSL') || err.code?.startsWith('ERR_TLS');
        reject(failure ?? new HboneError(tls ? 'TLS_FAILURE' : 'CONNECT', `HBONE connection to ${d.address}:${d.port} failed: ${err.message}${err.code ? ` (${err.code})` : ''}`));
      });
    });
    conn.ready.catch(() => {});
    session.on('error', (err) => this.log.debug({ err: err.message, key }, 'HBONE connection error'));
    session.on('close', () => {
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      const list = this.pools.get(key);
      if (!list) return;
      const rest = list.filter((x) => x !== conn);
      if (rest.length > 0) this.pools.set(key, rest);
      else this.pools.delete(key);
    });
    session.on('goaway', () => {
      // No new streams on it; a later open() makes a fresh connection.
      const list = this.pools.get(key);
      if (list) this.pools.set(key, list.filter((x) => x !== conn));
    });
    const list = this.pools.get(key);
    if (list) list.push(conn);
    else this.pools.set(key, [conn]);
    return conn;
  }

  /** Open connections per key (for admin dumps and tests). */
  stats(): { key: string; connections: number; streams: number }[] {
    return [...this.pools].map(([key, list]) => ({ key, connections: list.length, streams: list.reduce((n, c) => n + c.streams, 0) }));
  }

  /** Drop every pooled connection whose source is `sourceAddress` (its pod left). */
  closeSource(sourceAddress: string): void {
    for (const [key, list] of this.pools) {
      if (!key.startsWith(`${sourceAddress}(`)) continue;
      for (const c of list) c.session.destroy();
      this.pools.delete(key);
    }
  }

  close(): void {
    this.closed = true;
    for (const list of this.pools.values()) for (const c of list) c.session.destroy();
    this.pools.clear();
  }
}
