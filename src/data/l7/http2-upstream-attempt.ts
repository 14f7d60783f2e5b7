import * as http from 'node:http';
import * as http2 from 'node:http2';
import { HeaderList } from '../http1/header-list.ts';
import type { Cluster } from '../upstream/cluster.ts';
import type { Host } from '../upstream/host.ts';
import type { FilterRequest } from './http-filter.ts';
import type { BodySink } from './http2-request-body.ts';
import type { Http2UpstreamPool } from './http2-upstream-pool.ts';

/** What one attempt reports, whichever protocol carries it upstream. */
export interface AttemptEvents {
  /** The attempt's request exists: the body may go to it. */
  opened(a: UpstreamAttempt): void;
  response(status: number, headers: HeaderList, grpcStatus: string | undefined): void;
  /** No response: connect failure (`beforeRequest`) or a reset/error of the request. */
  failure(detail: string, beforeRequest: boolean): void;
  /** The upstream request is over (answered, failed or cancelled): its accounting ends. */
  closed(): void;
}

/** One request sent upstream: its body sink, and how to cancel it or stream its response down. */
export interface UpstreamAttempt extends BodySink {
  cancel(): void;
  /** Send the response head down, then relay the body (and HTTP/2 trailers). */
  pipeTo(stream: http2.ServerHttp2Stream, status: number, headers: HeaderList): void;
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te', 'host']);

export function responseHeaderList(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): HeaderList {
  const list = new HeaderList();
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':') || v === undefined || HOP.has(k)) continue;
    list.add(k, Array.isArray(v) ? v.join(', ') : String(v));
  }
  return list;
}

/** Every event is told at most once per kind; `closed` always comes last. */
function once(ev: AttemptEvents): AttemptEvents {
  let settled = false;
  let closed = false;
  return {
    opened: (a) => ev.opened(a),
    response(status, headers, grpc) {
      if (settled) return;
      settled = true;
      ev.response(status, headers, grpc);
    },
    failure(detail, before) {
      if (settled) return;
      settled = true;
      ev.failure(detail, before);
    },
    closed() {
      if (closed) return;
      closed = true;
      ev.closed();
    },
  };
}

/** An attempt on the host's multiplexed HTTP/2 session (gRPC keeps its trailers). */
export function openHttp2Attempt(pool: Http2UpstreamPool, cluster: Cluster, h: Host, req: FilterRequest, headers: HeaderList, events: AttemptEvents, resume: () => void): void {
  const ev = once(events);
  pool.get(cluster, h, (session, err) => {
    if (!session) {
      ev.failure(err, true);
      return ev.closed();
    }
    const out: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': req.path, ':authority': req.authority, ':scheme': req.scheme };
    for (const [k, v] of Object.entries(headers.toRecord())) out[k] = v;
    let up: http2.ClientHttp2Stream;
    try {
      up = session.request(out);
    } catch (e) {
      // the session went away between the pool's answer and this request (GOAWAY, destroyed)
      ev.failure((e as Error).message, true);
      return ev.closed();
    }
    let trailers: http2.IncomingHttpHeaders | undefined;
    up.on('trailers', (t) => (trailers = t));
    up.on('drain', resume);
    up.on('error', (e: Error) => ev.failure(e.message, false));
    up.once('close', () => {
      ev.failure(`upstream stream closed (${up.rstCode ?? 0})`, false);
      ev.closed();
    });
    up.once('response', (rh) => ev.response(Number(rh[':status'] ?? 502), responseHeaderList(rh), rh['grpc-status'] === undefined ? undefined : String(rh['grpc-status'])));
    ev.opened({
      write: (c) => up.write(c),
      end: () => up.end(),
      cancel: () => {
        if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
      },
      pipeTo(stream, status, rh) {
        stream.respond({ ':status': status, ...rh.toRecord() }, { waitForTrailers: true });
        stream.on('wantTrailers', () => {
          const t: http2.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(trailers ?? {})) if (!k.startsWith(':') && v !== undefined) t[k] = v;
          stream.sendTrailers(t);
        });
        up.once('close', () => {
          if (up.rstCode !== http2.constants.NGHTTP2_NO_ERROR && !stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        });
        up.pipe(stream);
      },
    });
  });
}

/** An attempt on a fresh HTTP/1.1 connection (the cluster speaks HTTP/1.1). */
/**
 * The HTTP/1.1 head fields of a request that came over HTTP/2. An HTTP/1.1 request cannot be
 * delimited by closing the connection: a body without content-length goes chunked (as Envoy's
 * HTTP/1 codec encodes it); unframed, its bytes would follow a bodiless head and be read upstream
 * as the next request (request smuggling, found by fuzzing).
 */
export function http1RequestFields(authority: string, headers: Record<string, string>, bodiless: boolean): Record<string, string> {
  const out: Record<string, string> = { ...headers, host: authority };
  if (!bodiless && out['content-length'] === undefined) out['transfer-encoding'] = 'chunked';
  return out;
}

export function openHttp1Attempt(cluster: Cluster, h: Host, req: FilterRequest, headers: HeaderList, events: AttemptEvents, resume: () => void, bodiless: boolean): void {
  const ev = once(events);
  cluster.connector.connectHost(h, cluster.tlsFor(h), cluster.config.connectTimeoutMs, (err, socket) => {
    if (!socket) {
      ev.failure(err?.detail ?? 'connect failed', true);
      return ev.closed();
    }
    const up = http.request({ method: req.method, path: req.path, headers: http1RequestFields(req.authority, headers.toRecord(), bodiless), createConnection: () => socket });
    up.on('drain', resume);
    up.on('error', (e) => ev.failure(e.message, false));
    socket.once('close', () => {
      ev.failure('upstream connection closed', false);
      ev.closed();
    });
    let res: http.IncomingMessage | undefined;
    up.once('response', (r) => {
      res = r;
      r.on('end', () => socket.destroy());
      r.on('error', () => socket.destroy());
      ev.response(r.statusCode ?? 502, responseHeaderList(r.headers), undefined);
    });
    ev.opened({
      write: (c) => up.write(c),
      end: () => up.end(),
      cancel: () => {
        socket.destroy();
      },
      pipeTo(stream, status, rh) {
        stream.respond({ ':status': status, ...rh.toRecord() });
        // an upstream that dies mid-body resets the downstream stream (no truncated success)
        socket.once('close', () => {
          if (!res?.complete && !stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        });
        res?.pipe(stream);
      },
    });
  }, false, cluster.proxyHeaderFor(h));
}
