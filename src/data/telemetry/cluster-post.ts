import type { ClusterManager } from '../upstream/cluster-manager.ts';
import type { PoolWaiter } from '../upstream/http1-pool.ts';
import type { Http1UpstreamConnection, UpstreamResponseHandler } from '../upstream/http1-upstream-connection.ts';
import type { HeaderList } from '../http1/header-list.ts';

/**
 * One HTTP/1.1 POST to a host of a cluster of the proxy (Envoy's async client on a collector
 * cluster): the cluster's keep-alive pool, its load balancing and its TLS (mTLS when the
 * collector has a sidecar). Resolves with the response status, 0 when it failed.
 */
export function postToCluster(clusters: ClusterManager, clusterName: string, authority: string, path: string, contentType: string, body: Buffer, timeoutMs: number): Promise<number> {
  const cluster = clusters.get(clusterName);
  const host = cluster?.pick(undefined, undefined);
  if (!cluster || !host) return Promise.resolve(0);
  return new Promise((resolve) => {
    const head = `POST ${path} HTTP/1.1\r\nhost: ${authority}\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\n\r\n`;
    const exchange = new PostExchange(head, body, resolve);
    exchange.timer = setTimeout(() => exchange.fail(), timeoutMs);
    exchange.timer.unref();
    cluster.pool(host).acquire(exchange);
  });
}

class PostExchange implements PoolWaiter, UpstreamResponseHandler {
  private readonly head: string;
  private readonly body: Buffer;
  private readonly done: (status: number) => void;
  private conn: Http1UpstreamConnection | undefined;
  private status = 0;
  private finished = false;
  timer: NodeJS.Timeout | undefined;

  constructor(head: string, body: Buffer, done: (status: number) => void) {
    this.head = head;
    this.body = body;
    this.done = done;
  }

  private finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.done(status);
  }

  fail(): void {
    const c = this.conn;
    this.conn = undefined;
    c?.destroy();
    this.finish(0);
  }

  onPoolReady(conn: Http1UpstreamConnection): void {
    if (this.finished) {
      conn.host.pool?.release(conn);
      return;
    }
    this.conn = conn;
    conn.attach(this, false);
    conn.socket.write(Buffer.concat([Buffer.from(this.head, 'latin1'), this.body]));
  }

  onPoolFailure(): void {
    this.finish(0);
  }

  onResponseHead(status: number, _reason: string, _headers: HeaderList): void {
    this.status = status;
  }

  onResponseBody(): void {}
  onUpstreamDrain(): void {}

  onResponseEnd(): void {
    const c = this.conn;
    this.conn = undefined;
    if (c) c.host.pool?.release(c);
    this.finish(this.status);
  }

  onUpstreamReset(): void {
    this.conn = undefined;
    this.finish(0);
  }
}
