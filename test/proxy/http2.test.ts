import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

/** A gRPC-shaped h2c server: echoes the body and ends with grpc-status trailers. */
async function grpcLikeServer(): Promise<http2.Http2Server & { port: number; failNext: number }> {
  const s = http2.createServer() as http2.Http2Server & { port: number; failNext: number };
  s.failNext = 0;
  s.on('stream', (st, headers) => {
    const stream = st as http2.ServerHttp2Stream;
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (s.failNext > 0) {
        // trailers-only response: UNAVAILABLE
        s.failNext--;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-path': String(headers[':path']) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
      stream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  s.port = (s.address() as AddressInfo).port;
  return s;
}

function h2request(port: number, path: string, body?: string, headers: http2.OutgoingHttpHeaders = {}): Promise<{ headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders | undefined }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const req = client.request({ ':method': body ? 'POST' : 'GET', ':path': path, ':authority': 'svc.example', ...headers });
    let h: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (x) => (h = x));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      client.close();
      resolve({ headers: h, body: Buffer.concat(chunks).toString(), trailers });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP/2 and gRPC through the connection manager', () => {
  let h: Harness;
  let echo: EchoServer;
  let grpc: http2.Http2Server & { port: number; failNext: number };
  let port: number;

  before(async () => {
    echo = await new EchoServer('h1-upstream').start();
    grpc = await grpcLikeServer();
    h = await startHarness();
    await h.push({
      clusters: [
        staticCluster('h1', [['127.0.0.1', echo.port]]),
        staticCluster('grpc', [['127.0.0.1', grpc.port]], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } }),
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/helloworld.Greeter/', grpc: {} }, { cluster: 'grpc' }, { responseHeadersToAdd: [{ header: { key: 'x-route', value: 'grpc' } }] }),
        route({ prefix: '/retry.Svc/' }, { cluster: 'grpc', retryPolicy: { retryOn: 'unavailable,connect-failure', numRetries: { value: 3 }, retryBackOff: { baseInterval: { nanos: 1_000_000 } } } }),
        route({ prefix: '/' }, { cluster: 'h1' }),
      ])])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    await echo.stop();
    await new Promise<void>((r) => grpc.close(() => r()));
  });

  it('serves h2c (prior knowledge) clients and forwards to an HTTP/1.1 upstream', async () => {
    const r = await h2request(port, '/h2/path?x=1', undefined, { 'x-custom': 'a' });
    assert.equal(r.headers[':status'], 200, r.body);
    const e = JSON.parse(r.body) as EchoReply;
    assert.equal(e.server, 'h1-upstream');
    assert.equal(e.url, '/h2/path?x=1');
    assert.equal(e.headers['x-custom'], 'a');
    assert.equal(e.headers.host, 'svc.example');
    assert.ok(e.headers['x-request-id']);
  });

  it('carries gRPC over HTTP/2 end to end with trailers', async () => {
    const r = await h2request(port, '/helloworld.Greeter/SayHello', 'payload', { 'content-type': 'application/grpc' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['x-route'], 'grpc');
    assert.equal(r.headers['x-path'], '/helloworld.Greeter/SayHello');
    assert.equal(r.body, 'payload');
    assert.equal(r.trailers?.['grpc-status'], '0');
  });

  it('retries gRPC UNAVAILABLE (trailers-only) responses and replays the request body', async () => {
    grpc.failNext = 2;
    const r = await h2request(port, '/retry.Svc/Call', 'body-to-replay', { 'content-type': 'application/grpc' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.body, 'body-to-replay');
    assert.equal(r.trailers?.['grpc-status'], '0');
    assert.equal(grpc.failNext, 0);
  });

  it('still serves HTTP/1.1 on the same listener', async () => {
    assert.equal((await request(port, { path: '/' })).json<EchoReply>().server, 'h1-upstream');
  });
});
