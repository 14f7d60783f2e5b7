import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';

/** tcp_proxy `tunneling_config`: the TCP stream carried in an HTTP CONNECT (or POST) request to the upstream. */
export interface TunnelingConfig {
  hostname: string;
  usePost: boolean;
  postPath: string;
}

/**
 * Opens the tunnel over an upstream connection, as Envoy's tcp_proxy does: HTTP/1.1 `CONNECT
 * hostname` (or `POST postPath` with `host: hostname`, the stream as a chunked body and the
 * response body back), or an HTTP/2 stream with `:method CONNECT`/`POST` when the cluster speaks
 * HTTP/2. A 2xx response establishes it: `done` gets the stream to relay bytes on. Anything else
 * fails it (`done` with the reason; the connection is closed).
 */
export function openTunnel(upstream: net.Socket, cfg: TunnelingConfig, useHttp2: boolean, done: (err: string | undefined, stream: Duplex | undefined) => void): void {
  let finished = false;
  const finish = (err: string | undefined, s: Duplex | undefined): void => {
    if (finished) return;
    finished = true;
    if (err) upstream.destroy();
    done(err, s);
  };
  if (useHttp2) {
    const session = http2.connect(`http://${cfg.hostname}`, { createConnection: () => upstream });
    session.on('error', (e) => finish(`tunnel: ${e.message}`, undefined));
    const headers: http2.OutgoingHttpHeaders = cfg.usePost
      ? { ':method': 'POST', ':path': cfg.postPath, ':authority': cfg.hostname, ':scheme': 'http' }
      : { ':method': 'CONNECT', ':authority': cfg.hostname };
    const stream = session.request(headers, { endStream: false });
    stream.on('error', (e) => finish(`tunnel: ${e.message}`, undefined));
    stream.once('response', (h) => {
      const status = Number(h[':status']);
      if (status < 200 || status > 299) return finish(`tunnel: upstream answered ${status}`, undefined);
      stream.once('close', () => session.close());
      finish(undefined, stream);
    });
    return;
  }
  const agentless = { createConnection: () => upstream, setHost: false };
  if (!cfg.usePost) {
    const req = http.request({ ...agentless, method: 'CONNECT', path: cfg.hostname, headers: { host: cfg.hostname } });
    req.on('error', (e) => finish(`tunnel: ${e.message}`, undefined));
    req.once('connect', (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) return finish(`tunnel: upstream answered ${res.statusCode}`, undefined);
      if (head.length > 0) socket.unshift(head);
      finish(undefined, socket);
    });
    // a non-2xx answer to CONNECT that node parses as an ordinary response
    req.once('response', (res: http.IncomingMessage) => finish(`tunnel: upstream answered ${res.statusCode}`, undefined));
    req.end();
    return;
  }
  const req = http.request({ ...agentless, method: 'POST', path: cfg.postPath, headers: { host: cfg.hostname, 'transfer-encoding': 'chunked' } });
  req.flushHeaders();
  req.on('error', (e) => finish(`tunnel: ${e.message}`, undefined));
  req.once('response', (res: http.IncomingMessage) => {
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) {
      res.resume();
      return finish(`tunnel: upstream answered ${res.statusCode}`, undefined);
    }
    // node composes the two halves (its typings know only web streams here)
    finish(undefined, Duplex.from({ readable: res, writable: req } as unknown as Parameters<typeof Duplex.from>[0]));
  });
}
