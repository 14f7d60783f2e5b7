import * as http2 from 'node:http2';
import { HeaderList } from '../http1/header-list.ts';
import type { Cluster } from '../upstream/cluster.ts';
import type { Host } from '../upstream/host.ts';
import type { FilterRequest, LocalReply } from './http-filter.ts';
import type { Http2RequestBody } from './http2-request-body.ts';
import { openHttp1Attempt, openHttp2Attempt, type AttemptEvents, type UpstreamAttempt } from './http2-upstream-attempt.ts';
import type { Http2UpstreamPool } from './http2-upstream-pool.ts';
import { LOCAL_REPLY } from './local-reply.ts';
import { retriableStatus, retryBackoffMs } from './retry-policy.ts';
import type { ForwardAction } from './route-action.ts';
import type { StreamInfo } from './stream-info.ts';

export interface Http2ForwardOptions {
  stream: http2.ServerHttp2Stream;
  req: FilterRequest;
  info: StreamInfo;
  cluster: Cluster;
  action: ForwardAction;
  pool: Http2UpstreamPool;
  body: Http2RequestBody;
  hash: number | undefined;
  /** Whether the virtual host sends x-envoy-attempt-count upstream. */
  includeAttemptCount: boolean;
  /** Finish response headers (mutations, server, service time) before they go downstream. */
  onHead(status: number, headers: HeaderList, attempts: number): void;
  local(r: LocalReply): void;
}

/**
 * One HTTP/2 downstream request to its cluster, with the route's retry policy and per-try
 * timeout, on an HTTP/2 upstream session (multiplexed per host) when the cluster speaks HTTP/2
 * or the downstream protocol, else on an HTTP/1.1 connection. The request body comes from the
 * stream's Http2RequestBody: forwarded as it arrives, replayed (first 64 KiB) to a retry after a
 * connect failure, a reset before the response, a retriable status (gRPC status included) or a
 * per-try timeout (504 UT when no retry is left, as Envoy).
 */
export function forwardHttp2(o: Http2ForwardOptions): void {
  const { stream, req, info, cluster, action } = o;
  const retry = action.retry;
  let done = false;
  let abandonCurrent: (() => void) | undefined;
  let attempts = 0;
  let retriesUsed = 0;
  let host: Host | undefined;

  stream.once('close', () => {
    done = true;
    abandonCurrent?.();
  });

  const canRetry = (): boolean => {
    if (!retry || retriesUsed >= retry.numRetries || !o.body.replayable || stream.headersSent || done) return false;
    if (!cluster.retryAllowed()) {
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
      cluster.countResponse(LOCAL_REPLY.overflow.status);
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
    h.rqTotal++;
    h.activeRequests++;
    const started = performance.now();
    // this attempt's state: `live` until it answers downstream, fails, times out or is retried
    let live = true;
    let released = false;
    let up: UpstreamAttempt | undefined;
    let tryTimer: NodeJS.Timeout | undefined;
    const release = (): void => {
      if (released) return;
      released = true;
      cluster.breaker.requests--;
      h.activeRequests--;
    };
    /** This attempt no longer serves the request: its body and upstream request go. */
    const abandon = (): void => {
      live = false;
      clearTimeout(tryTimer);
      if (abandonCurrent === abandon) abandonCurrent = undefined;
      if (up) {
        o.body.detach(up);
        up.cancel();
      }
    };
    abandonCurrent = abandon;
    const events: AttemptEvents = {
      opened(a) {
        up = a;
        if (!live) return a.cancel();
        if (!o.body.attach(a)) {
          // the body's start is gone (a retry of a request over 64 KiB): cannot be sent again
          abandon();
          cluster.countResponse(LOCAL_REPLY.connectionTermination.status);
          o.local(LOCAL_REPLY.connectionTermination);
        }
      },
      failure(detail, beforeRequest) {
        if (!live) return;
        abandon();
        release();
        info.upstreamTransportFailureReason = detail;
        cluster.recordResult(h, 503, true);
        if (stream.headersSent) return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        if ((beforeRequest ? retry?.onConnectFailure : retry?.onReset) && canRetry()) return schedule();
        const reply = beforeRequest ? LOCAL_REPLY.connectFailure : LOCAL_REPLY.connectionTermination;
        cluster.countResponse(reply.status);
        o.local(reply);
      },
      response(status, headers, grpcStatus) {
        if (!live) return;
        clearTimeout(tryTimer);
        cluster.recordResult(h, status, false);
        if (retry && retriableStatus(retry, status, grpcStatus) && canRetry()) {
          abandon();
          release();
          return schedule();
        }
        if (retriesUsed > 0 && retry && retriableStatus(retry, status, grpcStatus)) info.addFlag('URX');
        cluster.countResponse(status);
        info.upstreamServiceTimeMs = Math.round(performance.now() - started);
        o.onHead(status, headers, attempts);
        up!.pipeTo(stream, status, headers);
      },
      closed: release,
    };
    if (retry?.perTryTimeoutMs) {
      tryTimer = setTimeout(() => {
        if (!live || done || stream.headersSent) return;
        abandon();
        release();
        cluster.recordResult(h, 504, true);
        if ((retry.on5xx || retry.onGatewayError || retry.onReset) && canRetry()) return schedule();
        cluster.stats.rqTimeout++;
        cluster.countResponse(LOCAL_REPLY.timeout.status);
        o.local(LOCAL_REPLY.timeout);
      }, retry.perTryTimeoutMs);
      tryTimer.unref();
    }
    const headers = new HeaderList([...req.headers.items]);
    if (attempts > 1 && o.includeAttemptCount) headers.set('x-envoy-attempt-count', String(attempts));
    const resume = (): void => o.body.resume();
    if (cluster.config.http2 || cluster.config.useDownstreamProtocol) openHttp2Attempt(o.pool, cluster, h, req, headers, events, resume);
    else openHttp1Attempt(cluster, h, req, headers, events, resume, o.body.empty);
  };
  attempt();
}
