import type { Cluster } from '../upstream/cluster.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import type { Host } from '../upstream/host.ts';
import type { PoolWaiter } from '../upstream/http1-pool.ts';
import type { Http1UpstreamConnection, UpstreamResponseHandler } from '../upstream/http1-upstream-connection.ts';
import { HeaderList } from '../http1/header-list.ts';
import { reasonPhrase } from '../http1/head-parser.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { FilterContext, FilterRequest, FilterVerdict, LocalReply } from './http-filter.ts';
import { LOCAL_REPLY, localReplyHeaders, redirectLocation } from './local-reply.ts';
import { RequestMirror } from './request-mirror.ts';
import { applyRouteRequest, finishResponseHeaders, prepareRequestHeaders, routeHash } from './request-headers.ts';
import { ReusableTimer } from './reusable-timer.ts';
import { retriableStatus, retryBackoffMs, type RetryPolicy } from './retry-policy.ts';
import { pickCluster, type ForwardAction, type WeightedCluster } from './route-action.ts';
import type { Route, RouteTable } from './route-table.ts';
import { notifyObservers, StreamInfo, type StreamObserver } from './stream-info.ts';

/** The downstream side of a request (HTTP/1.1 connection today; HTTP/2 stream later). */
export interface DownstreamSink {
  sendHead(status: number, reason: string, headers: HeaderList): void;
  sendBody(chunk: Buffer | string): boolean;
  /** The response is complete. */
  sendEnd(): void;
  /** Reset the downstream (response cannot be completed). */
  abort(): void;
  pauseRequestBody(): void;
  resumeRequestBody(): void;
  /** The connection will close after this response (adds `connection: close`). */
  readonly closing: boolean;
  /** Close the connection after this response (a close-delimited upstream body). */
  closeAfterResponse(): void;
}

/** Shared, per-proxy dependencies of HTTP streams. */
export interface HttpRuntime {
  clusters: ClusterManager;
  routeTable(name: string): RouteTable | undefined;
  observers: readonly StreamObserver[];
}

const RETAIN_LIMIT = 64 * 1024;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * One HTTP request through the connection manager: request-id/XFF/XFP handling, route match,
 * HTTP filters (decodeHeaders hook), then the router: cluster and host selection, circuit
 * breakers, pooled upstream connection, retries with backoff, per-try and route timeouts,
 * response header mutation and streaming. Reused for every request of a downstream connection.
 */
export class HttpStream implements PoolWaiter, UpstreamResponseHandler, FilterContext {
  readonly info = new StreamInfo();
  readonly request: FilterRequest = { method: '', path: '', authority: '', scheme: 'http', headers: new HeaderList() };
  route: Route | undefined;
  private readonly rt: HttpRuntime;
  private hcm: HcmConfig;
  private sink: DownstreamSink;
  private action: ForwardAction | undefined;
  private weighted: WeightedCluster | undefined;
  private cluster: Cluster | undefined;
  private host: Host | undefined;
  private conn: Http1UpstreamConnection | undefined;
  private waitingPool: Host | undefined;
  private retry: RetryPolicy | undefined;
  private attempts = 0;
  private retriesUsed = 0;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private retainBody = false;
  private bodyTooLarge = false;
  requestComplete = false;
  private headSent = false;
  private upgrade: string | undefined;
  /** The upstream request has been written (head at least) on `conn`. */
  private upstreamStarted = 0;
  private attemptActive = false;
  /** A generated hash-policy cookie to set on the response. */
  private readonly cookie: { setCookie?: string } = {};
  /** The current attempt runs on a kept-alive connection that served earlier requests. */
  private connReused = false;
  private staleRetried = false;
  private active = false;
  private gen = 0;
  private corked: import('node:net').Socket | undefined;
  private readonly uncorkUpstream = (): void => {
    const c = this.corked;
    this.corked = undefined;
    c?.uncork();
  };
  private readonly timer = new ReusableTimer(() => this.onTimeout());
  private readonly tryTimer = new ReusableTimer(() => this.onTryTimeout());
  private readonly onDone: (s: HttpStream) => void;

  constructor(rt: HttpRuntime, hcm: HcmConfig, sink: DownstreamSink, onDone: (s: HttpStream) => void) {
    this.rt = rt;
    this.hcm = hcm;
    this.sink = sink;
    this.onDone = onDone;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Start a request whose head was parsed. `bodyExpected`: a body follows. */
  start(method: string, path: string, authority: string, headers: HeaderList, bodyExpected: boolean, upgrade: string | undefined): void {
    const info = this.info;
    info.resetForRequest(performance.now());
    this.gen++;
    this.active = true;
    this.route = undefined;
    this.action = undefined;
    this.weighted = undefined;
    this.cluster = undefined;
    this.host = undefined;
    this.conn = undefined;
    this.waitingPool = undefined;
    this.attempts = 0;
    this.retriesUsed = 0;
    this.staleRetried = false;
    this.connReused = false;
    this.body.length = 0;
    this.bodyBytes = 0;
    this.bodyTooLarge = false;
    this.requestComplete = !bodyExpected;
    this.headSent = false;
    this.upstreamStarted = 0;
    this.upgrade = upgrade;
    const req = this.request;
    req.method = method;
    req.path = path;
    req.authority = authority;
    req.headers = headers;
    info.method = method;
    info.path = path;
    info.authority = authority;
    info.scheme = req.scheme;
    info.userAgent = headers.get('user-agent') ?? '';
    prepareRequestHeaders(req, this.hcm, info);
    if (this.hcm.requestTimeoutMs > 0) this.timer.arm(this.hcm.requestTimeoutMs);
    this.route = this.table()?.route(req);
    if (this.route) {
      info.routeName = this.route.name;
      info.virtualHostName = this.route.virtualHost.name;
    }
    this.runFilters(0);
  }

  private runFilters(from: number): void {
    const filters = this.hcm.filters;
    for (let i = from; i < filters.length; i++) {
      const f = filters[i];
      if (!f.decodeHeaders) continue;
      const v = f.decodeHeaders(this);
      if (v === undefined) continue;
      if (v instanceof Promise) {
        const gen = this.gen;
        v.then((verdict: FilterVerdict) => {
          if (gen !== this.gen || !this.active) return;
          if (verdict) this.localReply(verdict);
          else this.runFilters(i + 1);
        }, (err: Error) => {
          if (gen !== this.gen || !this.active) return;
          this.localReply({ status: 500, body: `filter ${f.name} failed: ${err.message}`, details: 'filter_failed' });
        });
        return;
      }
      this.localReply(v);
      return;
    }
    this.routeRequest();
  }

  private routeRequest(): void {
    const route = this.route;
    if (!route) return this.localReply(LOCAL_REPLY.noRoute);
    const action = route.action;
    if (action.kind === 'direct') return this.localReply({ status: action.status, body: action.body ?? '', details: 'direct_response' }, route);
    if (action.kind === 'redirect') {
      const loc = redirectLocation(action, this.request, route.matchPrefix);
      return this.localReply({ status: action.status, body: '', headers: [['location', loc]], details: 'redirect' }, route);
    }
    this.action = action;
    const picked = pickCluster(action, this.request.headers);
    const clusterName = picked.name;
    this.weighted = picked.weighted;
    const cluster = clusterName !== undefined ? this.rt.clusters.get(clusterName) : undefined;
    this.info.clusterName = clusterName ?? '';
    if (!cluster) return this.localReply({ ...LOCAL_REPLY.clusterNotFound, status: action.clusterNotFoundCode });
    this.cluster = cluster;
    applyRouteRequest(this.request, route, action, this.weighted, this.table());
    this.retry = action.retry;
    this.retainBody = !this.requestComplete && this.retry !== undefined && this.retry.numRetries > 0;
    if (action.timeoutMs > 0) this.timer.arm(action.timeoutMs);
    if (action.mirrors.length > 0 && this.requestComplete) {
      for (const m of action.mirrors) {
        const mc = this.rt.clusters.get(m.cluster);
        if (mc && Math.random() < m.fraction) RequestMirror.send(mc, this.request.method, this.request.path, this.request.authority, this.request.headers, []);
      }
    }
    this.attempt();
  }

  private attempt(): void {
    const cluster = this.cluster!;
    const action = this.action!;
    const cb = cluster.breaker;
    if (cb.requests >= cluster.config.limits.maxRequests) {
      cluster.stats.rqOverflow++;
      return this.localReply(LOCAL_REPLY.overflow);
    }
    let host: Host | undefined;
    if (cluster.config.type === 'ORIGINAL_DST') {
      const od = this.info.originalDestination || `${this.info.downstreamLocalAddress}:${this.info.downstreamLocalPort}`;
      const c = od.lastIndexOf(':');
      host = cluster.originalDestinationHost(od.slice(0, c).replace(/^\[|\]$/g, ''), Number(od.slice(c + 1)));
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
  private endAttempt(): void {
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
    const s = conn.socket;
    // Corked until the end of this tick: body bytes that arrive with the head (the usual case)
    // leave in the same write (one syscall, one TLS record).
    s.cork();
    s.write(head, 'latin1');
    for (const b of this.body) s.write(b);
    if (!this.retainBody) this.body.length = 0;
    this.corked = s;
    process.nextTick(this.uncorkUpstream);
  }

  onPoolFailure(kind: string, detail: string): void {
    this.waitingPool = undefined;
    if (!this.active) return;
    const cluster = this.cluster!;
    const host = this.host!;
    this.endAttempt();
    if (kind === 'overflow') return this.localReply(LOCAL_REPLY.overflow);
    this.info.upstreamTransportFailureReason = detail;
    cluster.recordResult(host, 503, true);
    if (this.retry?.onConnectFailure && this.canRetry()) return this.scheduleRetry();
    if (kind === 'connect-timeout') this.info.upstreamTransportFailureReason = 'connect timeout';
    const body = `${LOCAL_REPLY.connectFailure.body}${kind === 'tls-failure' ? `, transport failure reason: TLS_error: ${detail}` : ''}`;
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
    if (conn) {
      if (this.retainBody) this.body.push(chunk);
      else if (this.body.length > 0) this.body.length = 0;
      if (!conn.socket.write(chunk)) this.sink.pauseRequestBody();
    } else this.body.push(chunk);
  }

  onRequestEnd(): void {
    this.requestComplete = true;
  }

  onUpstreamDrain(): void {
    this.sink.resumeRequestBody();
  }

  private canRetry(): boolean {
    const r = this.retry;
    if (!r || this.retriesUsed >= r.numRetries || this.bodyTooLarge || !this.requestComplete || this.headSent) return false;
    const cluster = this.cluster!;
    if (cluster.breaker.retries >= cluster.config.limits.maxRetries) {
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

  private table(): RouteTable | undefined {
    return this.hcm.inlineRoutes ?? (this.hcm.routeConfigName !== undefined ? this.rt.routeTable(this.hcm.routeConfigName) : undefined);
  }

  /** Response header mutations, server header, attempt count, filter encode hooks. */
  private finishResponseHeaders(status: number, headers: HeaderList): void {
    finishResponseHeaders(headers, this.hcm, this.route, this.weighted, this.table(), this.attempts, this.info.requestId);
    for (const f of this.hcm.filters) f.encodeHeaders?.(this, status, headers);
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
      return this.localReply(LOCAL_REPLY.connectionTermination);
    }
    this.info.addFlag('UR');
    this.sink.abort();
    this.complete();
  }

  /** Answer locally (filters, errors, direct responses, redirects). */
  localReply(r: LocalReply, route?: Route): void {
    if (!this.active) return;
    if (this.waitingPool) {
      this.cluster?.pool(this.waitingPool).cancel(this);
      this.waitingPool = undefined;
      this.endAttempt();
    }
    if (this.conn) {
      this.conn.destroy();
      this.conn = undefined;
      this.endAttempt();
    }
    if (this.headSent) {
      this.sink.abort();
      this.complete();
      return;
    }
    if (r.flag) this.info.addFlag(r.flag);
    this.info.responseCode = r.status;
    this.info.responseCodeDetails = r.details ?? 'local_reply';
    const body = r.body ?? '';
    const h = localReplyHeaders(r, body, this.hcm, route);
    for (const f of this.hcm.filters) f.encodeHeaders?.(this, r.status, h);
    if (this.sink.closing) h.set('connection', 'close');
    this.headSent = true;
    this.sink.sendHead(r.status, reasonPhrase(r.status), h);
    if (body.length > 0 && this.request.method !== 'HEAD') this.sink.sendBody(body);
    this.info.bytesSent += Buffer.byteLength(body);
    this.sink.sendEnd();
    this.complete();
  }

  private complete(): void {
    if (!this.active) return;
    this.active = false;
    this.timer.disarm();
    this.tryTimer.disarm();
    this.body.length = 0;
    this.info.endMs = performance.now();
    notifyObservers(this.rt.observers, this.info);
    this.onDone(this);
  }

  /** The downstream connection went away mid-request. */
  downstreamReset(): void {
    if (!this.active) return;
    this.info.addFlag('DC');
    if (this.info.responseCode === 0) this.info.responseCode = 0;
    if (this.waitingPool) {
      this.cluster?.pool(this.waitingPool).cancel(this);
      this.waitingPool = undefined;
    }
    const conn = this.conn;
    this.conn = undefined;
    this.endAttempt();
    conn?.destroy();
    this.active = false;
    this.info.endMs = performance.now();
    notifyObservers(this.rt.observers, this.info);
  }

  private onTimeout(): void {
    if (!this.active) return;
    if (this.cluster) this.cluster.stats.rqTimeout++;
    if (this.host && this.cluster && !this.headSent) this.cluster.recordResult(this.host, 504, false);
    if (this.headSent) {
      this.info.addFlag('UT');
      const c = this.conn;
      this.conn = undefined;
      this.endAttempt();
      c?.destroy();
      this.sink.abort();
      this.complete();
      return;
    }
    this.localReply(LOCAL_REPLY.timeout);
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
    if (this.cluster && this.host) this.cluster.recordResult(this.host, 504, false);
    const r = this.retry!;
    if ((r.on5xx || r.onGatewayError || r.onReset) && this.canRetry()) return this.scheduleRetry();
    if (this.cluster) this.cluster.stats.rqTimeout++;
    this.localReply(LOCAL_REPLY.timeout);
  }

  /** Close timers when the connection goes away. */
  dispose(): void {
    this.timer.dispose();
    this.tryTimer.dispose();
  }

  setHcm(hcm: HcmConfig, sink: DownstreamSink): void {
    this.hcm = hcm;
    this.sink = sink;
  }
}
