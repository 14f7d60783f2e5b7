import * as http from 'node:http';
import type * as http2 from 'node:http2';
import type { Cluster } from '../upstream/cluster.ts';
import type { FilterRequest } from './http-filter.ts';
import type { BodySink, Http2RequestBody } from './http2-request-body.ts';
import { http1RequestFields } from './http2-upstream-attempt.ts';
import type { Http2UpstreamPool } from './http2-upstream-pool.ts';

/** Body bytes a mirror keeps while its upstream is not there yet or pushes back; beyond, it gives up. */
const MIRROR_BUFFER_LIMIT = 1024 * 1024;

/**
 * A shadow copy of an HTTP/2 request to a mirror cluster (request_mirror_policies), as Envoy's
 * shadow writer: Host/:authority suffixed with `-shadow`, the whole body as it arrives (held
 * until the mirror's connection is ready), fire and forget: the answer is read and dropped,
 * never retried, and a failing or slow mirror never holds up the request itself (beyond 1 MiB
 * queued for it, the copy is abandoned).
 */
export function mirrorHttp2(pool: Http2UpstreamPool, cluster: Cluster, req: FilterRequest, body: Http2RequestBody): void {
  const h = cluster.pick(undefined, undefined);
  if (!h) return;
  const c = req.authority.lastIndexOf(':');
  const authority = c > 0 && req.authority.indexOf(']') < c ? `${req.authority.slice(0, c)}-shadow${req.authority.slice(c)}` : `${req.authority}-shadow`;
  const headers = req.headers.toRecord();
  const sink = new MirrorSink();
  if (!body.addMirror(sink)) return;
  if (cluster.config.http2 || cluster.config.useDownstreamProtocol) {
    pool.get(cluster, h, (session) => {
      if (!session || sink.abandoned) return;
      let up: http2.ClientHttp2Stream;
      try {
        up = session.request({ ...headers, ':method': req.method, ':path': req.path, ':authority': authority, ':scheme': req.scheme });
      } catch {
        return;
      }
      up.on('error', () => undefined);
      up.resume();
      sink.connect({ write: (b) => up.write(b), end: () => up.end() }, () => up.close());
      up.on('drain', () => sink.flush());
    });
    return;
  }
  cluster.connector.connectHost(h, cluster.tlsFor(h), cluster.config.connectTimeoutMs, (_err, socket) => {
    if (!socket) return;
    if (sink.abandoned) return socket.destroy();
    const up = http.request({ method: req.method, path: req.path, headers: http1RequestFields(authority, headers, body.empty), createConnection: () => socket });
    up.on('error', () => socket.destroy());
    up.on('response', (res) => {
      res.resume();
      res.on('end', () => socket.destroy());
    });
    sink.connect({ write: (b) => up.write(b), end: () => up.end() }, () => socket.destroy());
    up.on('drain', () => sink.flush());
  }, false, cluster.proxyHeaderFor(h));
}

/** The mirror's end of the request body: queued until its upstream request exists. */
class MirrorSink implements BodySink {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private endSent = false;
  private target: BodySink | undefined;
  private cancel: (() => void) | undefined;
  private blocked = false;
  abandoned = false;

  write(chunk: Buffer): boolean {
    if (this.abandoned) return true;
    if (this.target && !this.blocked) {
      if (!this.target.write(chunk)) this.blocked = true;
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > MIRROR_BUFFER_LIMIT) this.abandon();
    // the mirror never pushes back on the request itself
    return true;
  }

  end(): void {
    this.ended = true;
    this.flush();
  }

  connect(target: BodySink, cancel: () => void): void {
    this.target = target;
    this.cancel = cancel;
    this.flush();
  }

  /** The upstream can take more: send what is queued. */
  flush(): void {
    const t = this.target;
    if (!t || this.abandoned) return;
    this.blocked = false;
    while (this.queue.length > 0) {
      const b = this.queue.shift()!;
      this.queued -= b.length;
      if (!t.write(b)) {
        this.blocked = true;
        return;
      }
    }
    if (this.ended && !this.endSent) {
      this.endSent = true;
      t.end();
    }
  }

  abort(): void {
    this.abandon();
  }

  private abandon(): void {
    this.abandoned = true;
    this.queue.length = 0;
    this.cancel?.();
  }
}
