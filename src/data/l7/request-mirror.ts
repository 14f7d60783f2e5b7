import type { Cluster } from '../upstream/cluster.ts';
import type { Http1UpstreamConnection, UpstreamResponseHandler } from '../upstream/http1-upstream-connection.ts';
import type { PoolWaiter } from '../upstream/http1-pool.ts';
import type { Host } from '../upstream/host.ts';
import type { HeaderList } from '../http1/header-list.ts';

/** Request body bytes a mirror queues while its connection is not ready; beyond, it gives up. */
const QUEUE_LIMIT = 1024 * 1024;

/**
 * A shadow copy of an HTTP/1.1 request sent to a mirror cluster (request_mirror_policies), as
 * Envoy's shadow writer: fire and forget, Host suffixed with `-shadow`, the request body copied
 * as it arrives (raw, in the request's own framing; queued until the mirror's connection is
 * ready, abandoned beyond 1 MiB queued), the response read and discarded. A request that ends
 * without its body (client reset) takes its mirror's connection down with it.
 */
export class RequestMirror implements PoolWaiter, UpstreamResponseHandler {
  private readonly cluster: Cluster;
  private readonly host: Host;
  private readonly head: string;
  private readonly queue: Buffer[];
  private queued = 0;
  private readonly noBody: boolean;
  private conn: Http1UpstreamConnection | undefined;
  private waiting = true;
  private done = false;
  private requestEnded: boolean;

  private constructor(cluster: Cluster, host: Host, head: string, body: readonly Buffer[], noBody: boolean) {
    this.cluster = cluster;
    this.host = host;
    this.head = head;
    this.queue = [...body];
    for (const b of body) this.queued += b.length;
    this.noBody = noBody;
    this.requestEnded = false;
  }

  /** Start a mirror of a request whose body so far is `body` (more may follow through write()). */
  static send(cluster: Cluster, method: string, path: string, authority: string, headers: HeaderList, body: readonly Buffer[], complete: boolean): RequestMirror | undefined {
    const host = cluster.pick(undefined, undefined);
    if (!host) return undefined;
    const c = authority.lastIndexOf(':');
    const shadowHost = c > 0 && authority.indexOf(']') < c ? `${authority.slice(0, c)}-shadow${authority.slice(c)}` : `${authority}-shadow`;
    const head = `${method} ${path} HTTP/1.1\r\nhost: ${shadowHost}\r\n${headers.serialize()}\r\n`;
    const m = new RequestMirror(cluster, host, head, body, method === 'HEAD');
    if (complete) m.end();
    cluster.pool(host).acquire(m);
    return m;
  }

  /** More request body (raw bytes, framing included). */
  write(chunk: Buffer): void {
    if (this.done) return;
    if (this.conn) {
      this.conn.socket.write(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > QUEUE_LIMIT) this.abort();
  }

  /** The request's body is complete. */
  end(): void {
    this.requestEnded = true;
  }

  /** The request is gone before its body ended: the mirror's half-sent request goes too. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    if (this.waiting) {
      this.waiting = false;
      this.cluster.pool(this.host).cancel(this);
    }
    const c = this.conn;
    this.conn = undefined;
    c?.destroy();
  }

  onPoolReady(conn: Http1UpstreamConnection): void {
    this.waiting = false;
    if (this.done) {
      conn.host.pool?.release(conn);
      return;
    }
    this.conn = conn;
    conn.attach(this, this.noBody);
    conn.socket.write(this.head, 'latin1');
    for (const b of this.queue) conn.socket.write(b);
    this.queue.length = 0;
  }

  onPoolFailure(): void {
    this.waiting = false;
    this.done = true;
  }

  onResponseHead(): void {}
  onResponseBody(): void {}
  onUpstreamDrain(): void {}

  onResponseEnd(): void {
    const c = this.conn;
    this.conn = undefined;
    this.done = true;
    // answered before the whole request went: the connection is mid-request, not reusable
    if (c && !this.requestEnded) c.destroy();
    else if (c) c.host.pool?.release(c);
  }

  onUpstreamReset(): void {
    this.conn = undefined;
    this.done = true;
  }
}
