import * as http from 'node:http';
import type * as http2 from 'node:http2';
import { duplexPair, type Duplex } from 'node:stream';
import { Http2UpstreamPool } from '../l7/http2-upstream-pool.ts';
import type { Cluster } from './cluster.ts';
import type { Host } from './host.ts';

/** Hop-by-hop headers an HTTP/1.1 request carries that HTTP/2 forbids. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/**
 * HTTP/1.1 requests to a cluster that speaks HTTP/2 (explicit http2_protocol_options, as istiod
 * sets for h2UpgradePolicy UPGRADE and HTTP/2 ports): each pooled HTTP/1.1 "connection" is one
 * end of an in-memory pair whose other end node's HTTP/1.1 server parses; every request on it
 * becomes a stream on the cluster's multiplexed HTTP/2 session to the host, its response written
 * back as HTTP/1.1. The router's pool, retries and timeouts stay as they are for HTTP/1.1; the
 * upstream sees one HTTP/2 connection per host, as from Envoy.
 */
export class Http2Bridge {
  private readonly cluster: Cluster;
  private readonly sessions = new Http2UpstreamPool();
  private readonly server: http.Server;
  private readonly hostOf = new WeakMap<object, Host>();

  constructor(cluster: Cluster) {
    this.cluster = cluster;
    // no timeouts of node's own (the router's apply) and the proxy's header limit
    this.server = http.createServer({ requireHostHeader: false, maxHeaderSize: 96 * 1024, requestTimeout: 0, headersTimeout: 0, keepAliveTimeout: 0 }, (req, res) => this.forward(req, res));
  }

  /** A fresh bridged connection to `host` (what a TCP connect would have given). */
  open(host: Host): Duplex {
    const [near, far] = duplexPair();
    this.hostOf.set(far, host);
    this.server.emit('connection', far);
    return near;
  }

  close(): void {
    this.sessions.close();
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = this.hostOf.get(req.socket);
    if (!host) return void res.destroy();
    this.sessions.get(this.cluster, host, (session: http2.ClientHttp2Session | undefined) => {
      if (!session || req.destroyed) return void res.destroy();
      const headers: http2.OutgoingHttpHeaders = { ':method': req.method ?? 'GET', ':path': req.url ?? '/', ':scheme': 'http', ':authority': req.headers.host ?? host.key };
      for (const [k, v] of Object.entries(req.headers)) {
        if (HOP_BY_HOP.has(k) || (k === 'te' && v !== 'trailers') || v === undefined) continue;
        headers[k] = v;
      }
      const bodiless = req.method === 'GET' || req.method === 'HEAD' ? req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined : false;
      const stream = session.request(headers, { endStream: bodiless });
      stream.on('error', () => res.destroy());
      res.on('close', () => { if (!res.writableFinished) stream.close(http2Cancel); });
      if (!bodiless) req.pipe(stream);
      stream.on('response', (h) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) out[k] = v as string | string[];
        res.writeHead(Number(h[':status']), out);
        stream.pipe(res);
      });
    });
  }
}

/** NGHTTP2_CANCEL: the HTTP/1.1 side went away. */
const http2Cancel = 8;
