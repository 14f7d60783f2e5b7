import * as net from 'node:net';
import * as tls from 'node:tls';
import { checkSans, TlsContextFactory } from '../tls/tls-context-factory.ts';
import type { TlsSpec } from '../tls/tls-context-config.ts';
import { sourceFor, type UpstreamBind } from './upstream-bind-config.ts';
import { proxyProtocolHeader, type ProxyHeaderSpec } from './proxy-protocol-header.ts';

export type ConnectFailure = { kind: 'connect-failure' | 'connect-timeout' | 'tls-failure'; detail: string };

/**
 * What an internal listener named by `envoy_internal_address` endpoints does with a connection
 * (the waypoint's `connect_originate`: an HBONE tunnel to the endpoint): `done` gets a socket the
 * caller uses as it would a TCP connection to the endpoint.
 */
export type InternalUpstream = (target: { address: string; port: number; metadata: Readonly<Record<string, unknown>> }, timeoutMs: number, done: (err: ConnectFailure | undefined, socket: net.Socket | undefined) => void) => void;

/** The parts of a Host a connection needs. */
export interface UpstreamTarget {
  address: string;
  port: number;
  internalListener?: string | undefined;
  metadata?: Readonly<Record<string, unknown>>;
}

/**
 * Opens upstream sockets: raw TCP or TLS per a compiled UpstreamTlsContext (secure context from
 * SDS secrets, SAN check on the server certificate, TLS sessions cached per peer and resumed so a
 * new pooled connection skips the full handshake). A connector made by `withBind` binds the
 * socket's source address first (Envoy's upstream_bind_config).
 */
export class UpstreamConnector {
  private readonly tlsFactory: TlsContextFactory;
  private readonly sessions: Map<string, { session: Buffer; generation: string }>;
  private readonly bind: UpstreamBind | undefined;
  private readonly internal: ReadonlyMap<string, InternalUpstream>;

  constructor(tlsFactory: TlsContextFactory, bind?: UpstreamBind, sessions?: Map<string, { session: Buffer; generation: string }>, internal: ReadonlyMap<string, InternalUpstream> = new Map()) {
    this.tlsFactory = tlsFactory;
    this.bind = bind;
    this.sessions = sessions ?? new Map();
    this.internal = internal;
  }

  /** This connector (same TLS contexts and session cache) binding sources as `bind` says; undefined: no bind. */
  withBind(bind: UpstreamBind | undefined): UpstreamConnector {
    if (bind === this.bind) return this;
    return new UpstreamConnector(this.tlsFactory, bind, this.sessions, this.internal);
  }

  /** A connection to a host: through its internal listener when it has one, else `connect`. */
  connectHost(h: UpstreamTarget, spec: TlsSpec | undefined, timeoutMs: number, done: (err: ConnectFailure | undefined, socket: net.Socket | undefined) => void, halfOpen = false, proxy?: ProxyHeaderSpec): void {
    if (!h.internalListener) {
      this.connect(h.address, h.port, spec, timeoutMs, done, halfOpen, proxy);
      return;
    }
    const upstream = this.internal.get(h.internalListener);
    if (!upstream) {
      queueMicrotask(() => done({ kind: 'connect-failure', detail: `no internal listener ${h.internalListener} in this proxy` }, undefined));
      return;
    }
    upstream({ address: h.address, port: h.port, metadata: h.metadata ?? {} }, timeoutMs, (err, s) => {
      if (s) s.allowHalfOpen = halfOpen;
      done(err, s);
    });
  }

  /**
   * `halfOpen`: the socket keeps its write side open after the peer's FIN (tcp_proxy propagates
   * half-close itself); HTTP pools leave it false (node's default: end on the peer's end).
   * `proxy`: the connection starts with a PROXY header (before any TLS handshake), as Envoy's
   * upstream_proxy_protocol transport socket.
   */
  connect(address: string, port: number, spec: TlsSpec | undefined, timeoutMs: number, done: (err: ConnectFailure | undefined, socket: net.Socket | undefined) => void, halfOpen = false, proxy?: ProxyHeaderSpec): void {
    let finished = false;
    const finish = (err: ConnectFailure | undefined, s: net.Socket | undefined): void => {
      if (finished) return;
      finished = true;
      done(err, s);
    };
    const source = this.bind ? sourceFor(this.bind, address) : undefined;
    const local = source ? { localAddress: source.address, ...(source.port !== 0 ? { localPort: source.port } : {}) } : {};
    if (!spec) {
      rawConnect(address, port, local, timeoutMs, halfOpen, proxy, finish);
      return;
    }
    if (proxy) {
      // the PROXY header goes first, in the clear; the TLS handshake follows on the same socket
      rawConnect(address, port, local, timeoutMs, halfOpen, proxy, (err, raw) => {
        if (err || !raw) return finish(err, undefined);
        this.tlsConnect(address, port, spec, timeoutMs, halfOpen, { socket: raw }, finish);
      });
      return;
    }
    this.tlsConnect(address, port, spec, timeoutMs, halfOpen, { host: address, port, ...local }, finish);
  }

  private tlsConnect(address: string, port: number, spec: TlsSpec, timeoutMs: number, halfOpen: boolean, target: tls.ConnectionOptions, finish: (err: ConnectFailure | undefined, s: net.Socket | undefined) => void): void {
    const ctx = this.tlsFactory.secureContext(spec);
    if (!(ctx instanceof Object) || 'missing' in ctx) {
      queueMicrotask(() => finish({ kind: 'tls-failure', detail: `secret ${(ctx as { missing: string }).missing} not available` }, undefined));
      return;
    }
    const sessionKey = `${address}:${port}|${spec.key}`;
    const cached = this.sessions.get(sessionKey);
    // sessions stay good across our own certificate's rotation, not across a change of trust
    const generation = this.tlsFactory.trustTag(spec);
    const s = tls.connect({
      ...target,
      secureContext: ctx,
      servername: spec.sni,
      ALPNProtocols: spec.alpn.length > 0 ? [...spec.alpn] : undefined,
      rejectUnauthorized: spec.ca !== undefined,
      checkServerIdentity: (_host, cert) => {
        const err = checkSans(spec, cert);
        return err ? new Error(err) : undefined;
      },
      session: cached && cached.generation === generation ? cached.session : undefined,
    });
    s.allowHalfOpen = halfOpen;
    s.setNoDelay(true);
    s.on('session', (session: Buffer) => this.sessions.set(sessionKey, { session, generation }));
    s.setTimeout(timeoutMs);
    s.once('timeout', () => {
      s.destroy();
      finish({ kind: 'connect-timeout', detail: `connect timeout after ${timeoutMs} ms` }, undefined);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      const tlsErr = e.code?.startsWith('ERR_TLS') || e.code?.startsWith('ERR_SSL') || /certificate|SAN|ssl|tls/i.test(e.message);
      finish({ kind: tlsErr ? 'tls-failure' : 'connect-failure', detail: e.code ?? e.message }, undefined);
    });
    s.once('secureConnect', () => {
      s.setTimeout(0);
      s.removeAllListeners('timeout');
      s.removeAllListeners('error');
      finish(undefined, s);
    });
  }
}

/** A plain TCP connection (`connect-timeout` after `timeoutMs`), the PROXY header written first when asked. */
function rawConnect(address: string, port: number, local: { localAddress?: string; localPort?: number }, timeoutMs: number, halfOpen: boolean, proxy: ProxyHeaderSpec | undefined, finish: (err: ConnectFailure | undefined, s: net.Socket | undefined) => void): void {
  const s = net.connect({ host: address, port, noDelay: true, allowHalfOpen: halfOpen, ...local });
  s.setTimeout(timeoutMs);
  s.once('timeout', () => {
    s.destroy();
    finish({ kind: 'connect-timeout', detail: `connect timeout after ${timeoutMs} ms` }, undefined);
  });
  s.once('error', (e: NodeJS.ErrnoException) => finish({ kind: 'connect-failure', detail: e.code ?? e.message }, undefined));
  s.once('connect', () => {
    s.setTimeout(0);
    s.removeAllListeners('timeout');
    s.removeAllListeners('error');
    if (proxy) {
      const self = { address: s.localAddress ?? '', port: s.localPort ?? 0 };
      const peer = { address: s.remoteAddress ?? address, port: s.remotePort ?? port };
      s.write(proxyProtocolHeader(proxy.version, proxy.source ?? self, proxy.destination ?? peer));
    }
    finish(undefined, s);
  });
}
