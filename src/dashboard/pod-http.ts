import http from 'node:http';
import type net from 'node:net';

/** A connection to an address inside the mesh (pods are reachable only from the node namespace), handed over paused. */
export type Dial = (host: string, port: number) => Promise<net.Socket>;

/** GET `path` from HOST:PORT over a connection made by `dial`; one request, then the connection closes. */
export async function httpGet(dial: Dial, host: string, port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const socket = await dial(host, port);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(new Error(`no answer from ${host}:${port}${path} within ${timeoutMs} ms`)), timeoutMs);
    const req = http.request({ host, port, path, method: 'GET', headers: { connection: 'close', accept: 'text/plain' }, createConnection: () => socket }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
    // The dialled socket is paused with what arrived early unshifted: let it flow once HTTP listens.
    req.once('socket', (s) => s.resume());
    req.end();
  });
}

/**
 * Forward one HTTP request to HOST:PORT over a `dial`ed connection and stream the answer back
 * (the dashboard's window onto Zipkin's UI, which lives inside the mesh).
 */
export async function proxyRequest(dial: Dial, host: string, port: number, req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
  const socket = await dial(host, port);
  await new Promise<void>((resolve) => {
    const headers = { ...req.headers, host: `${host}:${port}`, connection: 'close' };
    const up = http.request({ host, port, path, method: req.method, headers, createConnection: () => socket }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.on('end', resolve);
      upRes.on('error', () => resolve());
    });
    up.once('socket', (s) => s.resume());
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`cannot reach ${host}:${port}: ${err.message}\n`);
      resolve();
    });
    req.pipe(up);
  });
}
