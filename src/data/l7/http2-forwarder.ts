import * as http2 from 'node:http2';
import { HeaderList } from '../http1/header-list.ts';
import type { Cluster } from '../upstream/cluster.ts';
import type { Host } from '../upstream/host.ts';
import type { FilterRequest, LocalReply } from './http-filter.ts';
import type { Http2UpstreamPool } from './http2-upstream-pool.ts';
import { LOCAL_REPLY } from './local-reply.ts';
import { retriableStatus, retryBackoffMs } from './retry-policy.ts';
import type { ForwardAction } from './route-action.ts';
import type { StreamInfo } from './stream-info.ts';

const RETAIN_LIMIT = 64 * 1024;

export interface Http2ForwardOptions {
  stream: http2.ServerHttp2Stream;
  req: FilterRequest;
  info: StreamInfo;
  cluster: Cluster;
  action: ForwardAction;
  pool: Http2UpstreamPool;
  hash: number | undefined;
  /** Finish response headers (mutations, server, service time) before they go downstream. */
  onHead(status: number, headers: HeaderList, attempts: number): void;
  local(r: LocalReply): void;
}

/**
 * One HTTP/2 request to an HTTP/2 upstream with the route's retry policy: request body chunks are
 * forwarded as they arrive and kept (up to 64 KiB) so an attempt can be replayed on another
 * session after a connect failure, a reset before the response, or a retriable status
 * (including gRPC status in a trailers-only response).
 */
export function forwardHttp2(o: Http2ForwardOptions): void {
  const { stream, req, info, cluster, action, pool } = o;
  const retry = action.retry;
  const chunks: Buffer[] = [];
  let bytes = 0;
  let replayable = true;
  let ended = false;
  let done = false;
  let current: http2.ClientHttp2Stream | undefined;
  let attempts = 0;
  let retriesUsed = 0;
  let host: Host | undefined;

  stream.on('data', (c: Buffer) => {
    if (replayable) {
      chunks.push(c);
      bytes += c.length;
      if (bytes > RETAIN_LIMIT) replayable = false;
    } else if (!current) chunks.push(c);
    current?.write(c);
  });
  stream.on('end', () => {
    ended = true;
    current?.end();
  });
  stream.once('close', () => {
    done = true;
    if (current && !current.closed) current.close(http2.constants.NGHTTP2_CANCEL);
  });

  const canRetry = (): boolean => {
    if (!retry || retriesUsed >= retry.numRetries || !replayable || stream.headersSent || done) return false;
    if (cluster.breaker.retries >= cluster.config.limits.maxRetries) {
      cluster.stats.rqRetryOverflow++;
      info.addFlag('URX');
      return false;
    }
    return true;
  };
  const schedule = (): void => {
    retriesUsed++;
    cluster.stats.rqRetry++;
    cluster.breaker.retries++;
    setTimeout(() => {
      cluster.breaker.retries--;
      if (!done) attempt();
    }, retryBackoffMs(retry!, retriesUsed)).unref();
  };

  const attempt = (): void => {
    if (cluster.breaker.requests >= cluster.config.limits.maxRequests) {
      cluster.stats.rqOverflow++;
      return o.local(LOCAL_REPLY.overflow);
    }
    const h = cluster.hostFor(info.originalDestination || `${info.downstreamLocalAddress}:${info.downstreamLocalPort}`, o.hash, retry?.otherHost ? host : undefined);
    if (!h) {
      cluster.stats.noHealthyHost++;
      return o.local(LOCAL_REPLY.noHealthyUpstream);
    }
    host = h;
    attempts++;
    info.attemptCount = attempts;
    info.upstreamHost = h.key;
    cluster.breaker.requests++;
    cluster.stats.rqTotal++;
    h.activeRequests++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      cluster.breaker.requests--;
      h.activeRequests--;
    };
    const started = performance.now();
    pool.get(cluster, h, (session, err) => {
      if (done) return release();
      if (!session) {
        release();
        info.upstreamTransportFailureReason = err;
        cluster.recordResult(h, 503, true);
        if (retry?.onConnectFailure && canRetry()) return schedule();
        return o.local(LOCAL_REPLY.connectFailure);
      }
      const out: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': req.path, ':authority': req.authority, ':scheme': req.scheme };
      for (const [k, v] of Object.entries(req.headers.toRecord())) out[k] = v;
      if (attempts > 1 && out['x-envoy-attempt-count'] !== undefined) out['x-envoy-attempt-count'] = String(attempts);
      const up = session.request(out);
      current = up;
      for (const c of chunks) up.write(c);
      if (!replayable) chunks.length = 0;
      if (ended) up.end();
      let trailers: http2.IncomingHttpHeaders | undefined;
      up.on('trailers', (t) => (trailers = t));
      up.once('close', release);
      up.on('error', (e: Error) => {
        release();
        if (current !== up || done) return;
        current = undefined;
        info.upstreamTransportFailureReason = e.message;
        if (stream.headersSent) return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        cluster.recordResult(h, 503, true);
        if (retry?.onReset && canRetry()) return schedule();
        o.local(LOCAL_REPLY.connectionTermination);
      });
      up.on('response', (rh) => {
        if (done || current !== up) return up.close(http2.constants.NGHTTP2_CANCEL);
        const status = Number(rh[':status'] ?? 502);
        const grpcStatus = rh['grpc-status'] === undefined ? undefined : String(rh['grpc-status']);
        cluster.recordResult(h, status, false);
        if (retry && retriableStatus(retry, status, grpcStatus) && canRetry()) {
          current = undefined;
          up.close(http2.constants.NGHTTP2_CANCEL);
          release();
          return schedule();
        }
        if (retriesUsed > 0 && retry && retriableStatus(retry, status, grpcStatus)) info.addFlag('URX');
        cluster.countResponse(status);
        info.upstreamServiceTimeMs = Math.round(performance.now() - started);
        const list = new HeaderList();
        for (const [k, v] of Object.entries(rh)) if (!k.startsWith(':') && v !== undefined) list.add(k, Array.isArray(v) ? v.join(', ') : String(v));
        o.onHead(status, list, attempts);
        stream.respond({ ':status': status, ...list.toRecord() }, { waitForTrailers: true });
        stream.on('wantTrailers', () => {
          const t: http2.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(trailers ?? {})) if (!k.startsWith(':') && v !== undefined) t[k] = v;
          stream.sendTrailers(t);
        });
        up.pipe(stream);
      });
    });
  };
  attempt();
}
