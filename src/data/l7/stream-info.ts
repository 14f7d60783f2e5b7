import type { PeerCertificate } from 'node:tls';
import type { DownstreamConnectionInfo } from './downstream-connection-info.ts';

/**
 * Everything known about one HTTP request (or TCP connection) as it goes through the proxy: what
 * access logs, metrics (istio_requests_total labels) and policy filters read. One object per
 * downstream connection, reset per request (no per-request allocation).
 */
export class StreamInfo {
  startTime = 0;
  startMs = 0;
  endMs = 0;
  protocol = 'HTTP/1.1';
  method = '';
  path = '';
  authority = '';
  scheme = 'http';
  userAgent = '';
  requestId = '';
  listenerName = '';
  direction: 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED' = 'UNSPECIFIED';
  downstreamRemoteAddress = '';
  downstreamRemotePort = 0;
  downstreamLocalAddress = '';
  downstreamLocalPort = 0;
  /** Original destination (captured connections). */
  originalDestination = '';
  requestedServerName = '';
  /** URI SAN of the downstream peer certificate (SPIFFE id) when it presented one. */
  peerPrincipal = '';
  /** Our own URI SAN when the downstream side was TLS. */
  localPrincipal = '';
  /** The verified client certificate, when there was one. */
  peerCertificate: PeerCertificate | undefined = undefined;
  /** This connection's x-forwarded-client-cert element, computed once (request-headers.ts). */
  xfccElement: string | undefined = undefined;
  mtls = false;
  routeName = '';
  virtualHostName = '';
  clusterName = '';
  upstreamHost = '';
  upstreamTransportFailureReason = '';
  responseCode = 0;
  responseCodeDetails = '';
  responseFlags = '';
  bytesReceived = 0;
  bytesSent = 0;
  upstreamServiceTimeMs = -1;
  attemptCount = 0;
  /** Free-form state other filters share (peer metadata, JWT claims, ...). */
  readonly filterState = new Map<string, unknown>();

  /** Copy the connection-level facts (addresses, SNI, TLS peer) that every request on it shares. */
  setDownstream(conn: DownstreamConnectionInfo): void {
    this.listenerName = conn.listenerName;
    this.direction = conn.direction;
    this.downstreamRemoteAddress = conn.remoteAddress;
    this.downstreamRemotePort = conn.remotePort;
    this.downstreamLocalAddress = conn.localAddress;
    this.downstreamLocalPort = conn.localPort;
    this.originalDestination = conn.originalDestination;
    this.requestedServerName = conn.requestedServerName;
    this.mtls = conn.tls && conn.peerPrincipal !== '';
    this.peerPrincipal = conn.peerPrincipal;
    this.localPrincipal = conn.localPrincipal;
    this.peerCertificate = conn.peerCertificate;
    this.xfccElement = undefined;
  }

  resetForRequest(nowMs: number): void {
    this.startTime = Date.now();
    this.startMs = nowMs;
    this.endMs = 0;
    this.method = '';
    this.path = '';
    this.authority = '';
    this.userAgent = '';
    this.requestId = '';
    this.routeName = '';
    this.virtualHostName = '';
    this.clusterName = '';
    this.upstreamHost = '';
    this.upstreamTransportFailureReason = '';
    this.responseCode = 0;
    this.responseCodeDetails = '';
    this.responseFlags = '';
    this.bytesReceived = 0;
    this.bytesSent = 0;
    this.upstreamServiceTimeMs = -1;
    this.attemptCount = 0;
    if (this.filterState.size > 0) this.filterState.clear();
  }

  /** Add an Envoy response flag (UH, UF, UO, NR, URX, UT, DI, FI, UC, NC, ...). */
  addFlag(flag: string): void {
    if (this.responseFlags === '') this.responseFlags = flag;
    else if (!this.responseFlags.split(',').includes(flag)) this.responseFlags += `,${flag}`;
  }

  durationMs(): number {
    return (this.endMs || performance.now()) - this.startMs;
  }
}

/** Receives every finished request (access log, Istio metrics). */
export interface StreamObserver {
  /** A TCP connection starts being proxied (istio_tcp_connections_opened_total). */
  onStreamStart?(info: StreamInfo): void;
  onStreamComplete(info: StreamInfo): void;
}

/** Hand a finished stream to every observer; an observer failure never affects traffic. */
export function notifyObservers(observers: readonly StreamObserver[], info: StreamInfo): void {
  for (const o of observers) {
    try {
      o.onStreamComplete(info);
    } catch {
      // observers never break traffic
    }
  }
}
