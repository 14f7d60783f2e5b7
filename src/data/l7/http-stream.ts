import type { ClusterManager } from '../upstream/cluster-manager.ts';
import type { HeaderList } from '../http1/header-list.ts';
import { reasonPhrase } from '../http1/head-parser.ts';
import type { DownstreamSink } from './downstream-sink.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { FilterContext, FilterVerdict, LocalReply } from './http-filter.ts';
import { LOCAL_REPLY, localReplyHeaders, pathVerdictReply, redirectLocation } from './local-reply.ts';
import { normalizeRequestPath } from './path-normalizer.ts';
import { RequestMirror } from './request-mirror.ts';
import { applyRouteRequest, finishResponseHeaders, prepareRequestHeaders } from './request-headers.ts';
import { ReusableTimer } from './reusable-timer.ts';
import { pickCluster, requestTimeoutMs, type WeightedCluster } from './route-action.ts';
import type { Route, RouteTable } from './route-table.ts';
import { RouterStream } from './router-stream.ts';
import { notifyObservers, type StreamObserver } from './stream-info.ts';
import { dechunk } from '../http1/dechunk.ts';

/** Shared, per-proxy dependencies of HTTP streams. */
export interface HttpRuntime {
  clusters: ClusterManager;
  routeTable(name: string): RouteTable | undefined;
  observers: readonly StreamObserver[];
}

/**
 * One HTTP request through the connection manager: request-id/XFF/XFP handling, route match,
 * HTTP filters (decodeHeaders hook), the route action (direct response, redirect, cluster pick,
 * mirrors, route timeout), local replies and completion; the router half (hosts, pool, retries,
 * upstream response) is RouterStream. Reused for every request of a downstream connection.
 */
export class HttpStream extends RouterStream implements FilterContext {
  private readonly rt: HttpRuntime;
  private readonly timer = new ReusableTimer(() => this.onTimeout());
  private readonly onDone: (s: HttpStream) => void;
  /** The weighted cluster picked with the route (the router applies its headers). */
  private pickedWeight: WeightedCluster | undefined;
  /** Mirrors still taking this request's body (request_mirror_policies). */
  private mirrors: RequestMirror[] | undefined;

  constructor(rt: HttpRuntime, hcm: HcmConfig, sink: DownstreamSink, onDone: (s: HttpStream) => void) {
    super(hcm, sink);
    this.rt = rt;
    this.onDone = onDone;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** A response head has gone (or is going) to the client: a local reply is no longer possible. */
  get responseStarted(): boolean {
    return this.headSent;
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
    this.pickedWeight = undefined;
    this.cluster = undefined;
    this.host = undefined;
    this.conn = undefined;
    this.waitingPool = undefined;
    this.attempts = 0;
    this.retriesUsed = 0;
    this.staleRetried = false;
    this.connReused = false;
    if (this.body.length > 0) this.body.length = 0; // an array length store is a runtime call even when it is already 0
    this.bodyBytes = 0;
    this.bodyTooLarge = false;
    this.requestComplete = !bodyExpected;
    this.headSent = false;
    this.upstreamStarted = 0;
    this.upgrade = upgrade;
    this.bodyWaiter = undefined;
    this.mirrors = undefined;
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
    // as Envoy: only relative paths reach routing, normalized before anything reads them
    if (path.charCodeAt(0) !== 47) return this.localReply(LOCAL_REPLY.absolutePath);
    const normalized = normalizeRequestPath(path, this.hcm.path);
    if (normalized !== path) {
      if (typeof normalized !== 'string') return this.localReply(pathVerdictReply(normalized, headers));
      req.path = normalized;
      info.path = normalized;
    }
    prepareRequestHeaders(req, this.hcm, info);
    if (this.hcm.requestTimeoutMs > 0) this.timer.arm(this.hcm.requestTimeoutMs);
    this.route = this.table()?.route(req);
    if (this.route) {
      info.routeName = this.route.name;
      info.virtualHostName = this.route.virtualHost.name;
      // as Envoy's route cache: the cluster is picked with the route, so HTTP filters and the
      // stats of a filter's local reply (a fault abort) know it
      if (this.route.action.kind === 'route') {
        const picked = pickCluster(this.route.action, req.headers);
        this.pickedWeight = picked.weighted;
        info.clusterName = picked.name ?? '';
      }
    }
    for (const f of this.hcm.filters) f.streamStart?.(this);
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

  /**
   * FilterContext.bufferBody: the request body held while filters run (nothing goes upstream
   * before they finish), de-chunked, once complete or at least `maxBytes` long.
   */
  bufferBody(maxBytes: number): Promise<{ data: Buffer; complete: boolean }> {
    const chunked = (this.request.headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked');
    const gen = this.gen;
    const current = (): Buffer => {
      const raw = Buffer.concat(this.body);
      return chunked ? dechunk(raw) : raw;
    };
    return new Promise((resolve) => {
      const check = (): void => {
        if (gen !== this.gen) return;
        const data = current();
        if (!this.requestComplete && data.length < maxBytes) return;
        this.bodyWaiter = undefined;
        resolve({ data, complete: this.requestComplete });
      };
      this.bodyWaiter = check;
      check();
    });
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
    const clusterName = this.info.clusterName || undefined;
    this.weighted = this.pickedWeight;
    const cluster = clusterName !== undefined ? this.rt.clusters.get(clusterName) : undefined;
    if (!cluster) return this.localReply({ ...LOCAL_REPLY.clusterNotFound, status: action.clusterNotFoundCode });
    this.cluster = cluster;
    applyRouteRequest(this.request, route, action, this.weighted, this.table());
    this.retry = action.retry;
    this.retainBody = !this.requestComplete && this.retry !== undefined && this.retry.numRetries > 0;
    const timeoutMs = requestTimeoutMs(action, this.request.headers);
    if (timeoutMs > 0) this.timer.arm(timeoutMs);
    if (action.mirrors.length > 0) {
      for (const m of action.mirrors) {
        const mc = this.rt.clusters.get(m.cluster);
        if (!mc || Math.random() >= m.fraction) continue;
        const mirror = RequestMirror.send(mc, this.request.method, this.request.path, this.request.authority, this.request.headers, this.body, this.requestComplete);
        if (mirror && !this.requestComplete) (this.mirrors ??= []).push(mirror);
      }
    }
    this.attempt();
  }

  private table(): RouteTable | undefined {
    return this.hcm.inlineRoutes ?? (this.hcm.routeConfigName !== undefined ? this.rt.routeTable(this.hcm.routeConfigName) : undefined);
  }

  /** Response header mutations, server header, attempt count, filter encode hooks. */
  protected finishResponseHeaders(status: number, headers: HeaderList): void {
    finishResponseHeaders(headers, this.hcm, this.route, this.weighted, this.table(), this.attempts, this.info.requestId);
    for (const f of this.hcm.filters) f.encodeHeaders?.(this, status, headers);
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

  override onRequestBody(chunk: Buffer): void {
    super.onRequestBody(chunk);
    if (this.mirrors !== undefined) for (const m of this.mirrors) m.write(chunk);
  }

  override onRequestEnd(): void {
    super.onRequestEnd();
    if (this.mirrors === undefined) return;
    for (const m of this.mirrors) m.end();
    this.mirrors = undefined;
  }

  /** The request is over before its body ended: mirrors that took part of it go. */
  private abortMirrors(): void {
    if (this.mirrors === undefined) return;
    for (const m of this.mirrors) m.abort();
    this.mirrors = undefined;
  }

  protected complete(): void {
    if (!this.active) return;
    this.abortMirrors();
    this.active = false;
    this.timer.disarm();
    this.tryTimer.disarm();
    if (this.body.length > 0) this.body.length = 0;
    this.info.endMs = performance.now();
    notifyObservers(this.rt.observers, this.info);
    this.onDone(this);
  }

  /** The downstream connection went away mid-request. */
  downstreamReset(): void {
    this.abortMirrors();
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
    if (this.host && this.cluster && !this.headSent) this.cluster.recordResult(this.host, 504, true);
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
    // an attempt was under way: Envoy charges the 504 to the cluster (chargeUpstreamAbort)
    if (this.cluster && this.host) this.cluster.countResponse(LOCAL_REPLY.timeout.status);
    this.localReply(LOCAL_REPLY.timeout);
  }

  /** No activity on this stream for the HCM's stream_idle_timeout: 408 before the response, else reset. */
  onStreamIdle(): void {
    if (!this.active) return;
    if (this.headSent) {
      this.info.addFlag('SI');
      const c = this.conn;
      this.conn = undefined;
      this.endAttempt();
      c?.destroy();
      this.sink.abort();
      this.complete();
      return;
    }
    if (this.waitingPool) {
      this.cluster?.pool(this.waitingPool).cancel(this);
      this.waitingPool = undefined;
    }
    const c = this.conn;
    this.conn = undefined;
    if (c) this.endAttempt();
    c?.destroy();
    this.localReply(LOCAL_REPLY.streamIdleTimeout);
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
