import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '../../lib/log.ts';
import { Http1ServerConnection } from '../l7/http1-server-connection.ts';
import type { DownstreamConnectionInfo } from '../l7/downstream-connection-info.ts';
import type { HcmConfig } from '../l7/hcm-config.ts';
import type { Http2Gateway } from '../l7/http2-server-connection.ts';
import type { HttpRuntime } from '../l7/http-stream.ts';
import { StreamInfo } from '../l7/stream-info.ts';
import { proxyTcp } from '../l4/tcp-proxy.ts';
import type { TcpMetadataExchange } from '../telemetry/tcp-metadata-exchange.ts';
import { checkSans, peerUri, type TlsContextFactory } from '../tls/tls-context-factory.ts';
import type { ChainConnection } from './chain-drain.ts';
import type { FilterChainSpec } from './listener-config.ts';
import { runNetworkFilters } from './network-filter.ts';

export interface FilterChainServerDeps {
  runtime: HttpRuntime;
  tls: TlsContextFactory;
  log: Logger;
  /** TCP metadata exchange (istio-peer-exchange) for tcp_proxy chains and clusters that enable it. */
  tcpMetadataExchange?: TcpMetadataExchange;
  /** The proxy is draining: new HTTP connections shut down after their first exchange, late HTTP/2 ones are closed. */
  isDraining: () => boolean;
}

/** How a connection reaches its filter chain. */
export interface ChainEntry {
  /** Bytes already read from the socket (sniffing). */
  initial: Buffer | undefined;
  /** The connection as its chain tracks it (drained with the chain). */
  tracked: ChainConnection;
  /** ALPN protocols the client offered (tls_inspector), for choosing the chain's ALPN. */
  offeredAlpn: readonly string[];
  /** Terminate the chain's TLS (false: an internal connection, already authenticated by its maker). */
  terminateTls: boolean;
}

/**
 * Serves a connection on the filter chain its listener chose: terminates the chain's TLS (client
 * certificate verified by OpenSSL, SANs checked), runs the chain's network filters, then its
 * terminal filter: tcp_proxy (with istio-peer-exchange when negotiated) or the HTTP connection
 * manager (HTTP/1.1, or HTTP/2 by codec, ALPN or preface; node:http2 loaded on first use).
 */
export class FilterChainServer {
  private readonly deps: FilterChainServerDeps;
  private readonly httpConns = new Set<Http1ServerConnection>();
  /** Standalone TLSSockets only verify client certificates when attached to a server object. */
  private readonly tlsServer = new tls.Server();
  /**
   * HTTP/2 downstream (and with it node:http2) is loaded on the first HTTP/2 connection: a mesh of
   * HTTP/1.1 services never pays for it.
   */
  private h2: Http2Gateway | undefined;
  private h2Loading: Promise<Http2Gateway> | undefined;

  constructor(deps: FilterChainServerDeps) {
    this.deps = deps;
  }

  /** Serve `socket` on `chain`; `conn` is completed by the TLS handshake (peer and local principals, SNI). */
  serve(chain: FilterChainSpec, socket: net.Socket, conn: DownstreamConnectionInfo, entry: ChainEntry): void {
    const { initial, tracked } = entry;
    if (!chain.tls || !entry.terminateTls) {
      this.runChain(chain, socket, conn, initial, tracked);
      return;
    }
    const ctx = this.deps.tls.secureContext(chain.tls);
    if ('missing' in ctx) {
      this.deps.log.warn({ listener: conn.listenerName, secret: ctx.missing }, 'TLS secret not available; closing connection');
      socket.destroy();
      return;
    }
    if (initial) {
      socket.pause();
      socket.unshift(initial);
    }
    const spec = chain.tls;
    const t = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: ctx,
      requestCert: spec.requireClientCert || spec.ca !== undefined,
      rejectUnauthorized: spec.requireClientCert,
      // As Envoy: a client offering none of the listed protocols (a sidecar's `istio` ALPN to a
      // gateway's h2/http1.1) is served without ALPN, not refused (Node would send no_application_protocol).
      ALPNProtocols: spec.alpn.length > 0 && (entry.offeredAlpn.length === 0 || spec.alpn.some((p) => entry.offeredAlpn.includes(p))) ? [...spec.alpn] : undefined,
      server: this.tlsServer,
    });
    tracked.addSocket(t);
    t.on('error', () => socket.destroy());
    const handshakeTimer = chain.tlsHandshakeTimeoutMs > 0 ? setTimeout(() => t.destroy(), chain.tlsHandshakeTimeoutMs) : undefined;
    t.once('close', () => clearTimeout(handshakeTimer));
    t.once('secure', () => {
      clearTimeout(handshakeTimer);
      if (t.destroyed) return;
      const peer = t.getPeerCertificate();
      const hasPeer = peer && Object.keys(peer).length > 0;
      // A standalone TLSSocket leaves chain verification to the caller: ask OpenSSL's verdict.
      const verifyError = hasPeer ? (t as unknown as { _handle?: { verifyError?: () => Error | null } })._handle?.verifyError?.() ?? null : new Error('no client certificate');
      const authorized = hasPeer && verifyError === null;
      if (spec.requireClientCert && !authorized) {
        this.deps.log.debug({ listener: conn.listenerName, err: verifyError?.message }, 'client certificate rejected');
        t.destroy();
        return;
      }
      if (hasPeer && spec.sanMatchers.length > 0) {
        const err = checkSans(spec, peer);
        if (err) {
          this.deps.log.debug({ listener: conn.listenerName, err }, 'client certificate SAN rejected');
          t.destroy();
          return;
        }
      }
      conn.tls = true;
      conn.peerPrincipal = authorized ? peerUri(peer) ?? '' : '';
      if (authorized) conn.peerCertificate = peer;
      conn.localPrincipal = peerUri(t.getCertificate() as tls.PeerCertificate | undefined) ?? '';
      conn.requestedServerName = (t as unknown as { servername?: string }).servername || conn.requestedServerName;
      this.runChain(chain, t, conn, undefined, tracked);
    });
  }

  /** The proxy drains: open HTTP/1.1 connections close once idle. */
  shutdownHttp(): void {
    for (const c of this.httpConns) c.shutdown();
  }

  close(): void {
    this.h2?.close();
  }

  private runChain(chain: FilterChainSpec, socket: net.Socket, conn: DownstreamConnectionInfo, initial: Buffer | undefined, tracked: ChainConnection): void {
    const rt = this.deps.runtime;
    if (chain.networkFilters.length > 0 || chain.terminal.kind === 'tcp') {
      const info = new StreamInfo();
      info.resetForRequest(performance.now());
      info.setDownstream(conn);
      runNetworkFilters(chain.networkFilters, info, socket, () => {
        if (chain.terminal.kind === 'tcp') {
          const tcp = chain.terminal.tcp;
          const mx = this.deps.tcpMetadataExchange;
          if (chain.metadataExchange && mx && mx.negotiated(socket)) {
            mx.downstream(socket, initial, info, (rest) => proxyTcp(socket, rest, tcp, rt.clusters, info, rt.observers, mx));
            if (socket.isPaused()) socket.resume(); // held by an asynchronous network filter (ext_authz)
            return;
          }
          proxyTcp(socket, initial, tcp, rt.clusters, info, rt.observers, mx);
          return;
        }
        this.runHttp(chain, socket, conn, initial, tracked);
      });
      return;
    }
    this.runHttp(chain, socket, conn, initial, tracked);
  }

  private runHttp(chain: FilterChainSpec, socket: net.Socket, conn: DownstreamConnectionInfo, initial: Buffer | undefined, tracked: ChainConnection): void {
    const rt = this.deps.runtime;
    if (chain.terminal.kind !== 'http') return;
    const hcm = chain.terminal.hcm;
    const alpn = (socket as tls.TLSSocket).alpnProtocol;
    if (hcm.codec === 'HTTP2' || alpn === 'h2' || (initial && initial.toString('latin1', 0, 3) === 'PRI')) {
      this.serveHttp2(socket, hcm, conn, initial, tracked);
      return;
    }
    const c = new Http1ServerConnection(socket, hcm, rt, conn, initial, this.deps.isDraining() ? (x) => x.shutdown() : undefined, (buf) => this.serveHttp2(socket, hcm, conn, buf, tracked));
    tracked.onDrain(() => c.drainClose());
    this.httpConns.add(c);
    socket.once('close', () => this.httpConns.delete(c));
    if (socket.isPaused()) socket.resume();
  }

  /** Hand a connection to the HTTP/2 gateway; bytes arriving while it loads are replayed to it. */
  private serveHttp2(socket: net.Socket, hcm: HcmConfig, conn: DownstreamConnectionInfo, initial: Buffer | undefined, tracked: ChainConnection): void {
    // node:http2 sessions expect node's default: our write side ends when the client's does
    socket.allowHalfOpen = false;
    // a drain before the session exists: GOAWAY as soon as it does
    tracked.onDrain(() => undefined);
    if (this.h2) {
      const session = this.h2.serve(socket, hcm, conn, initial);
      tracked.onDrain(() => session.drain(), () => session.close());
      return;
    }
    const chunks: Buffer[] = initial && initial.length > 0 ? [initial] : [];
    const early = (c: Buffer): void => void chunks.push(c);
    socket.on('data', early);
    this.h2Loading ??= import('../l7/http2-server-connection.ts').then((m) => (this.h2 = new m.Http2Gateway(this.deps.runtime)));
    this.h2Loading.then(
      (gw) => {
        socket.off('data', early);
        socket.pause();
        if (socket.destroyed || this.deps.isDraining()) {
          socket.destroy();
          return;
        }
        const session = gw.serve(socket, hcm, conn, chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        tracked.onDrain(() => session.drain(), () => session.close());
      },
      (err: unknown) => {
        this.deps.log.error({ err }, 'HTTP/2 support failed to load');
        socket.destroy();
      },
    );
  }
}
