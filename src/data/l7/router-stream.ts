import type { Cluster } from '../upstream/cluster.ts';
import type { Host } from '../upstream/host.ts';
import type { PoolWaiter } from '../upstream/http1-pool.ts';
import type { Http1UpstreamConnection, UpstreamResponseHandler } from '../upstream/http1-upstream-connection.ts';
import { HeaderList } from '../http1/header-list.ts';
import { reasonPhrase } from '../http1/head-parser.ts';
import type { DownstreamSink } from './downstream-sink.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { FilterRequest, LocalReply } from './http-filter.ts';
import { LOCAL_REPLY } from './local-reply.ts';
import { routeHash } from './request-headers.ts';
import { ReusableTimer } from './reusable-timer.ts';
import { retriableStatus, retryBackoffMs, type RetryPolicy } from './retry-policy.ts';
import type { ForwardAction, WeightedCluster } from './route-action.ts';
import type { Route } from './route-table.ts';
import { StreamInfo } from './stream-info.ts';
import { messageBuffer } from '../http1/message-buffer.ts';

const RETAIN_LIMIT = 64 * 1024;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * The router half of an HTTP stream (Envoy's router filter): host selection, circuit breakers,
 * the pooled upstream connection and the request written on it, request body retention for
 * retries, retries with backoff, the per-try timeout, and relaying the upstream response.
 * HttpStream (the connection-manager half) extends it; there is no other subclass, so every
 * call stays monomorphic. Fields are shared with HttpStream, which resets them per request.
 */
export abstract class RouterStream implements PoolWaiter, UpstreamResponseHandler {
  readonly info = new StreamInfo();
  readonly request: FilterRequest = { method: '', path: '', authority: '', scheme: 'http', headers: new HeaderList() };
  route: Route | undefined;
  protected hcm: HcmConfig;
  protected sink: DownstreamSink;
  protected action: ForwardAction | undefined;
  protected weighted: WeightedCluster | undefined;
  protected cluster: Cluster | undefined;
  protected host: Host | undefined;
  protected conn: Http1UpstreamConnection | undefined;
  protected waitingPool: Host | undefined;
  protected retry: RetryPolicy | undefined;
  protected attempts = 0;
  protected retriesUsed = 0;
  protected body: Buffer[] = [];
  protected bodyBytes = 0;
  protected retainBody = false;
  protected bodyTooLarge = false;
  requestComplete = false;
  protected headSent = false;
  protected upgrade: string | undefined;
  /** The upstream request has been written (head at least) on `conn`. */
  protected upstreamStarted = 0;
  private attemptActive = false;
  /** A generated hash-policy cookie to set on the response. */
  private readonly cookie: { setCookie?: string } = {};
  /** The current attempt runs on a kept-alive connection that served earlier requests. */
  protected connReused = false;
  protected staleRetried = false;
  protected active = false;
  protected gen = 0;
  /** Inside the downstream connection's handling of one input chunk (beginBatch/endBatch). */
  private batching = false;
  /** The upstream request head held back until the body bytes of the same input are known. */
  private pendingHead: string | undefined;
  private pendingConn: Http1UpstreamConnection | undefined;
  protected readonly tryTimer = new ReusableTimer(() => this.onTryTimeout());
  /** A filter waiting for request body (HttpStream.bufferBody), told of every chunk and the end. */
  protected bodyWaiter: (() => void) | undefined;

  constructor(hcm: HcmConfig, sink: DownstreamSink) {
    this.hcm = hcm;
    this.sink = sink;
  }

  /** Answer locally (filters, errors, direct responses, redirects). */
  abstract localReply(r: LocalReply, route?: Route): void;
  /** The request is over: timers off, observers notified, stream returned to its connection. */
  protected abstract complete(): void;
  /** Response header mutations, server header, attempt count, filter encode hooks. */
  protected abstract finishResponseHeaders(status: number, headers: HeaderList): void;

  protected attempt(): void {
    const cluster = this.cluster!;
    const action = this.action!;
    const cb = cluster.breaker;
    if (cb.requests >= cluster.config.limits.maxRequests) {
      cluster.stats.rqOverflow++;
      cluster.countResponse(LOCAL_REPLY.overflow.status);
      return this.localReply(LOCAL_REPLY.overflow);
    }
    let host: Host | undefined;
    if (cluster.followsDestination()) {
      host = cluster.originalDestinationHostFor(this.info.originalDestination || `${this.info.downstreamLocalAddress}:${this.info.downstreamLocalPort}`);
    } else {
      if (this.attempts === 0) this.cookie.setCookie = undefined;
      host = cluster.pick(routeHash(action, this.request, this.info, this.cookie), this.retry?.otherHost ? this.host : undefined);
    }
    if (!host) {
      cluster.stats.noHealthyHost++;
      return this.localReply(LOCAL_REPLY.noHealthyUpstream);
    }
    this.attempts++;
    this.info.attemptCount = this.attempts;
    if (this.attempts > 1 && this.route?.virtualHost.includeAttemptCount) this.request.headers.set('x-envoy-attempt-count', String(this.attempts));
    this.host = host;
    this.info.upstreamHost = host.key;
    cb.requests++;
    host.activeRequests++;
    this.attemptActive = true;
    cluster.stats.rqTotal++;
    host.rqTotal++;
    if (this.retry?.perTryTimeoutMs) this.tryTimer.arm(this.retry.perTryTimeoutMs);
    this.waitingPool = host;
    cluster.pool(host).acquire(this);
  }

  /** The attempt on `host` is over (response, failure or timeout): undo its accounting. */
  protected endAttempt(): void {
    const host = this.host;
    if (host && this.cluster && this.attemptActive) {
      this.cluster.breaker.requests--;
      host.activeRequests--;
      this.attemptActive = false;
    }
    this.tryTimer.disarm();
  }

  onPoolReady(conn: Http1UpstreamConnection): void {
    this.waitingPool = undefined;
    if (!this.active) {
      conn.host.pool?.release(conn);
      return;
    }
    this.conn = conn;
    this.upstreamStarted = performance.now();
    conn.attach(this, this.request.method === 'HEAD');
    this.connReused = conn.requests > 1;
    const req = this.request;
    if (this.action?.autoHostRewrite && conn.host.hostname) req.authority = conn.host.hostname;
    const head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.authority}\r\n${req.headers.serialize()}\r\n`;
    if (this.batching) {
      // body bytes that arrived with the head are still being handed over: write at endBatch
      this.pendingHead = head;
      this.pendingConn = conn;
      return;
    }
    this.writeHead(conn, head);
  }

  /** The head and the request body received so far in one write (one syscall, one TLS record). */
  private writeHead(conn: Http1UpstreamConnection, head: string): void {
    conn.socket.write(this.body.length > 0 ? messageBuffer(head, this.body) : messageBuffer(head, undefined));
    if (!this.retainBody && this.body.length > 0) this.body.length = 0;
  }

  /** The downstream connection starts handing over one input chunk (head and body bytes). */
  beginBatch(): void {
    this.batching = true;
    this.pendingHead = undefined;
    this.pendingConn = undefined;
  }

  /** The input chunk has been handed over: write the upstream head held back with its body bytes. */
  endBatch(): void {
    this.batching = false;
    const head = this.pendingHead;
    if (head === undefined) return;
    const conn = this.pendingConn!;
    this.pendingHead = undefined;
    this.pendingConn = undefined;
    if (this.active && this.conn === conn && !conn.closed) this.writeHead(conn, head);
  }

  onPoolFailure(kind: string, detail: string): void {
    this.waitingPool = undefined;
    if (!this.active) return;
    const cluster = this.cluster!;
    const host = this.host!;
    this.endAttempt();
    if (kind === 'overflow') {
      cluster.countResponse(LOCAL_REPLY.overflow.status);
      return this.localReply(LOCAL_REPLY.overflow);
    }
    this.info.upstreamTransportFailureReason = detail;
    cluster.recordResult(host, 503, true);
    if (this.retry?.onConnectFailure && this.canRetry()) return this.scheduleRetry();
    if (kind === 'connect-timeout') this.info.upstreamTransportFailureReason = 'connect timeout';
    const body = `${LOCAL_REPLY.connectFailure.body}${kind === 'tls-failure' ? `, transport failure reason: TLS_error: ${detail}` : ''}`;
    cluster.countResponse(LOCAL_REPLY.connectFailure.status);
    this.localReply({ ...LOCAL_REPLY.connectFailure, body });
  }

  /** More request body from downstream (raw bytes, framing included). */
  onRequestBody(chunk: Buffer): void {
    if (!this.active) return;
    this.info.bytesReceived += chunk.length;
    if (this.retainBody) {
      this.bodyBytes += chunk.length;
      if (this.bodyBytes > RETAIN_LIMIT) {
        this.retainBody = false;
        this.bodyTooLarge = true;
      }
    }
    const conn = this.conn;
    if (conn && this.pendingHead === undefined) {
      if (this.retainBody) this.body.push(chunk);
      else if (this.body.length > 0) this.body.length = 0;
      if (!conn.socket.write(chunk)) this.sink.pauseRequestBody();
    } else this.body.push(chunk);
    if (this.bodyWaiter !== undefined) this.bodyWaiter();
  }

  onRequestEnd(): void {
    this.requestComplete = true;
    if (this.bodyWaiter !== undefined) this.bodyWaiter();
  }

  onUpstreamDrain(): void {
    this.sink.resumeRequestBody();
  }

  private canRetry(): boolean {
    const r = this.retry;
    if (!r || this.retriesUsed >= r.numRetries || this.bodyTooLarge || !this.requestComplete || this.headSent) return false;
    const cluster = this.cluster!;
    if (!cluster.retryAllowed()) {
      cluster.stats.rqRetryOverflow++;
      this.info.addFlag('URX');
      return false;
    }
    return true;
  }

  private scheduleRetry(): void {
    const cluster = this.cluster!;
    this.retriesUsed++;
    cluster.stats.rqRetry++;
    cluster.breaker.retries++;
    const gen = this.gen;
    const delay = retryBackoffMs(this.retry!, this.retriesUsed);
    setTimeout(() => {
      cluster.breaker.retries--;
      if (gen !== this.gen || !this.active) return;
      this.attempt();
    }, delay).unref();
  }

  onResponseHead(status: number, reason: string, headers: HeaderList, hasBody: boolean): void {
    if (!this.active) return;
    const cluster = this.cluster!;
    const host = this.host!;
    const conn = this.conn!;
    const grpcStatus = headers.get('grpc-status');
    cluster.recordResult(host, status, false);
    if (this.retry && status !== 101 && retriableStatus(this.retry, status, grpcStatus)) {
      if (this.canRetry()) {
        this.endAttempt();
        this.conn = undefined;
        conn.destroy();
        return this.scheduleRetry();
      }
      if (this.retriesUsed > 0) this.info.addFlag('URX');
    }
    this.tryTimer.disarm();
    this.info.upstreamServiceTimeMs = Math.round(performance.now() - this.upstreamStarted);
    cluster.countResponse(status);
    this.info.responseCode = status;
    this.info.responseCodeDetails = 'via_upstream';
    headers.remove('connection');
    headers.remove('keep-alive');
    // a body delimited by the upstream closing can only be relayed the same way
    if (hasBody && status !== 101 && !headers.has('content-length') && !(headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) this.sink.closeAfterResponse();
    if (status === 101) {
      headers.set('connection', 'upgrade');
    }
    this.finishResponseHeaders(status, headers);
    headers.set('x-envoy-upstream-service-time', String(this.info.upstreamServiceTimeMs));
    if (this.cookie.setCookie) headers.add('set-cookie', this.cookie.setCookie);
    if (this.sink.closing && status !== 101) headers.set('connection', 'close');
    this.headSent = true;
    this.sink.sendHead(status, reason || reasonPhrase(status), headers);
    if (!hasBody && status !== 101) this.onResponseEnd();
  }

  /** The upstream's `100 Continue` (it got `Expect: 100-continue` because the HCM forwards it). */
  onContinue(): void {
    if (this.active && !this.headSent) this.sink.sendContinue?.();
  }

  /** The upstream bytes at hand are handled: a response head held back for body bytes goes now. */
  onInputHandled(): void {
    if (this.active) this.sink.flush();
  }

  onResponseBody(chunk: Buffer): void {
    if (!this.active) return;
    this.info.bytesSent += chunk.length;
    if (!this.sink.sendBody(chunk)) this.conn?.socket.pause();
  }

  /** Downstream can take more response body. */
  onDownstreamDrain(): void {
    this.conn?.socket.resume();
  }

  onResponseEnd(): void {
    if (!this.active) return;
    const conn = this.conn;
    this.conn = undefined;
    this.endAttempt();
    if (conn) {
      if (this.requestComplete && !this.upgrade) conn.host.pool?.release(conn);
      else conn.destroy();
    }
    this.sink.sendEnd();
    this.complete();
  }

  onUpstreamReset(beforeHeaders: boolean, detail: string): void {
    if (!this.active) return;
    this.conn = undefined;
    this.endAttempt();
    this.info.upstreamTransportFailureReason = detail;
    if (beforeHeaders && !this.headSent) {
      // A pooled keep-alive connection the server closed while idle (keep-alive timeout race):
      // nothing was processed, so send the request once more on a fresh connection.
      if (this.connReused && !this.staleRetried && this.requestComplete && IDEMPOTENT.has(this.request.method) && (this.body.length > 0 || this.info.bytesReceived === 0)) {
        this.staleRetried = true;
        this.attempts--;
        return this.attempt();
      }
      this.cluster?.recordResult(this.host!, 503, true);
      if (this.retry?.onReset && this.canRetry()) return this.scheduleRetry();
      this.cluster?.countResponse(LOCAL_REPLY.connectionTermination.status);
      return this.localReply(LOCAL_REPLY.connectionTermination);
    }
    this.info.addFlag('UR');
    this.sink.abort();
    this.complete();
  }

  private onTryTimeout(): void {
    if (!this.active || this.headSent) return;
    const c = this.conn;
    if (this.waitingPool) {
      this.cluster?.pool(this.waitingPool).cancel(this);
      this.waitingPool = undefined;
    }
    this.conn = undefined;
    this.endAttempt();
    c?.destroy();
    if (this.cluster && this.host) this.cluster.recordResult(this.host, 504, true);
    const r = this.retry!;
    if ((r.on5xx || r.onGatewayError || r.onReset) && this.canRetry()) return this.scheduleRetry();
    if (this.cluster) {
      this.cluster.stats.rqTimeout++;
      this.cluster.countResponse(LOCAL_REPLY.timeout.status);
    }
    this.localReply(LOCAL_REPLY.timeout);
  }
}
