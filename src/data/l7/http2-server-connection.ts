import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import { HeaderList } from '../http1/header-list.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { FilterContext, FilterRequest, LocalReply } from './http-filter.ts';
import type { HttpRuntime } from './http-stream.ts';
import type { DownstreamConnectionInfo } from './downstream-connection-info.ts';
import { forwardHttp2 } from './http2-forwarder.ts';
import { mirrorHttp2 } from './http2-request-mirror.ts';
import { Http2RequestBody } from './http2-request-body.ts';
import { Http2UpstreamPool } from './http2-upstream-pool.ts';
import { LOCAL_REPLY, pathVerdictReply, redirectLocation } from './local-reply.ts';
import { normalizeRequestPath } from './path-normalizer.ts';
import { applyRouteRequest, finishResponseHeaders, prepareRequestHeaders, routeHash } from './request-headers.ts';
import { PrematureResetGuard } from './premature-reset-guard.ts';
import { pickCluster, requestTimeoutMs } from './route-action.ts';
import type { Route, RouteTable } from './route-table.ts';
import { notifyObservers, StreamInfo } from './stream-info.ts';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'te']);

interface SessionCtx {
  hcm: HcmConfig;
  conn: DownstreamConnectionInfo;
  resets: PrematureResetGuard;
  abort: () => void;
}

/**
 * HTTP/2 (h2c prior knowledge or TLS ALPN h2) on the connection manager, for gRPC and HTTP/2
 * clients: node:http2 server sessions; the same route tables and HTTP filters as HTTP/1.1; each
 * stream goes to an HTTP/2 upstream session (multiplexed per host) when the cluster speaks HTTP/2
 * or uses the downstream protocol, else to a fresh HTTP/1.1 request. Trailers are forwarded
 * (gRPC status); retries, per-try timeouts and request mirrors as on HTTP/1.1 (http2-forwarder).
 */
export class Http2Gateway {
  private readonly rt: HttpRuntime;
  private readonly pool = new Http2UpstreamPool();
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(rt: HttpRuntime) {
    this.rt = rt;
  }

  /**
   * Serve an HTTP/2 connection; `initial` are bytes already read (the preface). Returns how to
   * drain it (GOAWAY: in-flight streams finish, no new ones) and close it.
   */
  serve(socket: net.Socket, hcm: HcmConfig, conn: DownstreamConnectionInfo, initial: Buffer | undefined): { drain(): void; close(): void } {
    // node:http2 reads a net.Socket's native handle directly, so bytes already read (the sniffed
    // preface) are replayed through a JS stream wrapper instead of unshift().
    const transport: Duplex = initial && initial.length > 0 ? replay(socket, initial) : socket;
    // one light server object per connection carries that connection's config to its streams
    const ctx: SessionCtx = { hcm, conn, resets: new PrematureResetGuard(), abort: () => socket.destroy() };
    const limits = hcm.http2;
    const server = http2.createServer({
      // Envoy counts pseudo-headers in max_headers_count and resets the stream beyond it; Node
      // resets the stream beyond maxHeaderListPairs (pseudo-headers included) or maxHeaderListSize
      maxHeaderListPairs: Math.max(4, hcm.maxHeadersCount),
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: hcm.maxHeadersBytes,
        ...(limits.initialStreamWindowSize !== undefined ? { initialWindowSize: limits.initialStreamWindowSize } : {}),
        ...(limits.hpackTableSize !== undefined ? { headerTableSize: limits.hpackTableSize } : {}),
      },
    });
    let session: http2.ServerHttp2Session | undefined;
    server.on('session', (sess: http2.ServerHttp2Session) => {
      session = sess;
      this.sessions.add(sess);
      sess.once('close', () => this.sessions.delete(sess));
      sess.on('error', () => undefined);
      if (limits.initialConnectionWindowSize !== undefined) sess.once('connect', () => sess.setLocalWindowSize(limits.initialConnectionWindowSize!));
    });
    server.on('stream', (st, headers) => this.onStream(st as http2.ServerHttp2Stream, headers, ctx));
    server.emit('connection', transport);
    if (transport === socket && socket.isPaused()) socket.resume();
    return {
      drain: () => {
        if (session && !session.closed && !session.destroyed) session.close();
      },
      close: () => session?.destroy(),
    };
  }

  close(): void {
    for (const s of this.sessions) s.destroy();
    this.pool.close();
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, c: SessionCtx): void {
    const info = new StreamInfo();
    info.resetForRequest(performance.now());
    info.protocol = 'HTTP/2';
    info.setDownstream(c.conn);
    const h = new HeaderList();
    for (const [k, v] of Object.entries(headers)) {
      if (k.startsWith(':') || HOP.has(k) || v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) h.add(k, x);
      else h.add(k, String(v));
    }
    const req: FilterRequest = {
      method: String(headers[':method'] ?? 'GET'),
      path: String(headers[':path'] ?? '/'),
      authority: String(headers[':authority'] ?? headers.host ?? ''),
      scheme: c.conn.tls ? 'https' : 'http',
      headers: h,
    };
    info.method = req.method;
    info.path = req.path;
    info.authority = req.authority;
    info.scheme = req.scheme;
    info.userAgent = h.get('user-agent') ?? '';
    // as on HTTP/1.1: only relative paths, normalized before routing and filters read them
    let early: LocalReply | undefined;
    if (req.path.charCodeAt(0) !== 47) early = LOCAL_REPLY.absolutePath;
    else {
      const normalized = normalizeRequestPath(req.path, c.hcm.path);
      if (typeof normalized !== 'string') early = pathVerdictReply(normalized, h);
      else if (normalized !== req.path) info.path = req.path = normalized;
    }
    prepareRequestHeaders(req, c.hcm, info);
    const table = c.hcm.inlineRoutes ?? (c.hcm.routeConfigName !== undefined ? this.rt.routeTable(c.hcm.routeConfigName) : undefined);
    const route = early ? undefined : table?.route(req);
    // as Envoy's route cache: the cluster is picked with the route (filters and a local reply's stats know it)
    const picked = route?.action.kind === 'route' ? pickCluster(route.action, req.headers) : undefined;
    info.clusterName = picked?.name ?? '';
    // the body is read from the start (filters may look at it; attempts, retries and mirrors share it)
    const body = new Http2RequestBody(stream);
    const fctx: FilterContext = { request: req, info, route, bufferBody: (max) => body.buffered(max) };
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      info.endMs = performance.now();
      notifyObservers(this.rt.observers, info);
    };
    stream.on('error', () => finish());
    stream.once('close', () => {
      finish();
      if (c.resets.onStreamClosed(performance.now() - info.startMs, info.responseCode !== 0)) {
        // rapid reset: as Envoy, abort the whole connection (no GOAWAY, pending writes dropped)
        c.abort();
      }
    });
    const local = (r: LocalReply): void => {
      // closed: the peer reset the stream (or ended the session) before our reply; respond() would throw
      if (stream.destroyed || stream.closed || stream.headersSent) return;
      if (r.flag) info.addFlag(r.flag);
      info.responseCode = r.status;
      info.responseCodeDetails = r.details ?? 'local_reply';
      const rh = new HeaderList();
      for (const [k, v] of r.headers ?? []) rh.add(k, v);
      if (r.body && !rh.has('content-type')) rh.add('content-type', 'text/plain');
      rh.set('server', c.hcm.serverName);
      for (const f of c.hcm.filters) f.encodeHeaders?.(fctx, r.status, rh);
      stream.respond({ ':status': r.status, ...rh.toRecord() });
      stream.end(r.body ?? '');
    };
    if (early) return local(early);
    for (const f of c.hcm.filters) f.streamStart?.(fctx);
    const run = (i: number): void => {
      for (; i < c.hcm.filters.length; i++) {
        const f = c.hcm.filters[i];
        const v = f.decodeHeaders?.(fctx);
        if (v === undefined) continue;
        if (v instanceof Promise) {
          const next = i + 1;
          v.then((verdict) => (verdict ? local(verdict) : run(next)), (err: Error) => local({ status: 500, body: err.message }));
          return;
        }
        return local(v);
      }
      this.route(stream, req, info, fctx, route, picked, table, c.hcm, local, body);
    };
    run(0);
  }

  private route(stream: http2.ServerHttp2Stream, req: FilterRequest, info: StreamInfo, fctx: FilterContext, route: Route | undefined, picked: ReturnType<typeof pickCluster> | undefined, table: RouteTable | undefined, hcm: HcmConfig, local: (r: LocalReply) => void, body: Http2RequestBody): void {
    if (!route) return local(LOCAL_REPLY.noRoute);
    const a = route.action;
    if (a.kind === 'direct') return local({ status: a.status, body: a.body ?? '', details: 'direct_response' });
    if (a.kind === 'redirect') return local({ status: a.status, headers: [['location', redirectLocation(a, req, route.matchPrefix)]], details: 'redirect' });
    const { name, weighted } = picked ?? pickCluster(a, req.headers);
    const cluster = name ? this.rt.clusters.get(name) : undefined;
    if (!cluster) return local({ ...LOCAL_REPLY.clusterNotFound, status: a.clusterNotFoundCode });
    applyRouteRequest(req, route, a, weighted, table);
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = requestTimeoutMs(a, req.headers);
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        cluster.stats.rqTimeout++;
        if (!stream.headersSent) {
          cluster.countResponse(LOCAL_REPLY.timeout.status);
          local(LOCAL_REPLY.timeout);
        }
        else stream.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      timer.unref();
      stream.once('close', () => clearTimeout(timer));
    }
    for (const m of a.mirrors) {
      const mc = this.rt.clusters.get(m.cluster);
      if (mc && Math.random() < m.fraction) mirrorHttp2(this.pool, mc, req, body);
    }
    forwardHttp2({
      stream, req, info, cluster, action: a, pool: this.pool, body, hash: routeHash(a, req, info), local,
      includeAttemptCount: route.virtualHost.includeAttemptCount,
      onHead: (status, rh, attempts) => {
        info.responseCode = status;
        finishResponseHeaders(rh, hcm, route, weighted, table, attempts, info.requestId);
        for (const f of hcm.filters) f.encodeHeaders?.(fctx, status, rh);
        rh.set('x-envoy-upstream-service-time', String(info.upstreamServiceTimeMs));
        for (const k of HOP) rh.remove(k);
      },
    });
  }
}

/** A Duplex that yields `initial` first, then the socket's data; writes go to the socket. */
function replay(socket: net.Socket, initial: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(initial);
  socket.removeAllListeners('data');
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.on('error', (e) => d.destroy(e));
  socket.resume();
  return d;
}
