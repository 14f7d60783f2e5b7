import type { TlsSpec } from '../tls/tls-context-config.ts';
import { istioHttpAlpn } from '../tls/istio-alpn.ts';
import type { Cluster } from './cluster.ts';
import type { Host } from './host.ts';
import { Http1UpstreamConnection, type ConnectionOwner } from './http1-upstream-connection.ts';
import type { ConnectFailure } from './upstream-connector.ts';

/** Someone waiting for a connection. */
export interface PoolWaiter {
  onPoolReady(conn: Http1UpstreamConnection): void;
  onPoolFailure(kind: 'overflow' | ConnectFailure['kind'], detail: string): void;
}

/**
 * HTTP/1.1 keep-alive connection pool for one host (and one transport socket): idle connections
 * are reused LIFO; new ones are opened within the cluster's max_connections; beyond that requests
 * wait as pending within max_pending_requests, else overflow (503 UO).
 */
export class Http1Pool implements ConnectionOwner {
  readonly host: Host;
  private readonly cluster: Cluster;
  private readonly tls: TlsSpec | undefined;
  private readonly idle: Http1UpstreamConnection[] = [];
  private readonly waiting: PoolWaiter[] = [];
  private connecting = 0;
  readonly all = new Set<Http1UpstreamConnection>();
  private draining = false;

  constructor(host: Host, cluster: Cluster, tls: TlsSpec | undefined) {
    this.host = host;
    this.cluster = cluster;
    this.tls = istioHttpAlpn(tls, 'istio-http/1.1');
  }

  get tlsSpec(): TlsSpec | undefined {
    return this.tls;
  }

  acquire(w: PoolWaiter): void {
    const now = Date.now();
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (c.closed || c.mustClose) continue;
      if (now - c.lastUsed > this.cluster.config.idleTimeoutMs) {
        c.destroy();
        continue;
      }
      w.onPoolReady(c);
      return;
    }
    const cb = this.cluster.breaker;
    if (this.waiting.length >= this.connecting && cb.connections < this.cluster.config.limits.maxConnections) {
      this.waiting.push(w);
      cb.pending++;
      this.open();
      return;
    }
    if (cb.connections >= this.cluster.config.limits.maxConnections) this.cluster.stats.cxOverflow++;
    if (cb.pending >= this.cluster.config.limits.maxPendingRequests) {
      this.cluster.stats.rqPendingOverflow++;
      w.onPoolFailure('overflow', 'pending requests overflow');
      return;
    }
    cb.pending++;
    this.waiting.push(w);
  }

  /** Stop waiting (the request timed out or the client went away). */
  cancel(w: PoolWaiter): void {
    const i = this.waiting.indexOf(w);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.cluster.breaker.pending--;
    }
  }

  private open(): void {
    const cb = this.cluster.breaker;
    cb.connections++;
    this.connecting++;
    this.cluster.stats.cxTotal++;
    this.host.cxActive++;
    this.cluster.connector.connectHost(this.host, this.tls, this.cluster.config.connectTimeoutMs, (err, socket) => {
      this.connecting--;
      if (err || !socket) {
        cb.connections--;
        this.host.cxActive--;
        this.cluster.stats.cxConnectFail++;
        // fail one waiter per failed attempt (others keep waiting for their own attempts)
        const w = this.waiting.shift();
        if (w) {
          cb.pending--;
          w.onPoolFailure(err!.kind, err!.detail);
        }
        return;
      }
      const conn = new Http1UpstreamConnection(socket, this.host, this);
      this.all.add(conn);
      this.release(conn);
    }, false, this.cluster.proxyHeaderFor(this.host));
  }

  /** Hand a connection back after a complete exchange (or a fresh one). */
  release(conn: Http1UpstreamConnection): void {
    conn.detach();
    if (conn.closed || conn.mustClose || this.draining) {
      conn.destroy();
      return;
    }
    const maxReq = this.cluster.config.maxRequestsPerConnection;
    if (maxReq > 0 && conn.requests >= maxReq) {
      conn.destroy();
      return;
    }
    const w = this.waiting.shift();
    if (w) {
      this.cluster.breaker.pending--;
      w.onPoolReady(conn);
      return;
    }
    conn.lastUsed = Date.now();
    this.idle.push(conn);
  }

  onConnectionClosed(conn: Http1UpstreamConnection): void {
    if (!this.all.delete(conn)) return;
    this.cluster.breaker.connections--;
    this.host.cxActive--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // a slot freed: let a waiter open a connection
    if (this.waiting.length > this.connecting && this.cluster.breaker.connections < this.cluster.config.limits.maxConnections) this.open();
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** Close idle connections and refuse to pool more (cluster removed or host gone). */
  drain(): void {
    this.draining = true;
    for (const c of this.idle.splice(0)) c.destroy();
    for (const w of this.waiting.splice(0)) {
      this.cluster.breaker.pending--;
      w.onPoolFailure('connect-failure', 'cluster removed');
    }
  }
}
