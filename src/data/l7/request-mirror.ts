import type { Cluster } from '../upstream/cluster.ts';
import type { Http1UpstreamConnection, UpstreamResponseHandler } from '../upstream/http1-upstream-connection.ts';
import type { PoolWaiter } from '../upstream/http1-pool.ts';
import type { HeaderList } from '../http1/header-list.ts';

/**
 * A shadow copy of a request sent to a mirror cluster (request_mirror_policies): fire and
 * forget, Host suffixed with `-shadow`, response discarded. Only requests whose body is already
 * complete are mirrored.
 */
export class RequestMirror implements PoolWaiter, UpstreamResponseHandler {
  private readonly head: string;
  private readonly body: readonly Buffer[];
  private readonly noBody: boolean;
  private conn: Http1UpstreamConnection | undefined;

  constructor(head: string, body: readonly Buffer[], noBody: boolean) {
    this.head = head;
    this.body = body;
    this.noBody = noBody;
  }

  static send(cluster: Cluster, method: string, path: string, authority: string, headers: HeaderList, body: readonly Buffer[]): void {
    const host = cluster.pick(undefined, undefined);
    if (!host) return;
    const c = authority.lastIndexOf(':');
    const shadowHost = c > 0 && authority.indexOf(']') < c ? `${authority.slice(0, c)}-shadow${authority.slice(c)}` : `${authority}-shadow`;
    const head = `${method} ${path} HTTP/1.1\r\nhost: ${shadowHost}\r\n${headers.serialize()}\r\n`;
    cluster.pool(host).acquire(new RequestMirror(head, body, method === 'HEAD'));
  }

  onPoolReady(conn: Http1UpstreamConnection): void {
    this.conn = conn;
    conn.attach(this, this.noBody);
    conn.socket.write(this.head, 'latin1');
    for (const b of this.body) conn.socket.write(b);
  }

  onPoolFailure(): void {}
  onResponseHead(): void {}
  onResponseBody(): void {}
  onUpstreamDrain(): void {}

  onResponseEnd(): void {
    const c = this.conn;
    this.conn = undefined;
    if (c) c.host.pool?.release(c);
  }

  onUpstreamReset(): void {
    this.conn = undefined;
  }
}
