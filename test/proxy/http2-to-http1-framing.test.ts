import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { address, hcm, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

/**
 * HTTP/2 requests forwarded to an HTTP/1.1 upstream must carry their own framing: a request body
 * without content-length goes chunked (as Envoy's HTTP/1 codec encodes it). Found by the
 * http2-proxy fuzz target: a GET with DATA frames and no content-length went upstream as a
 * bodiless head followed by the raw body bytes (delimited only by `connection: close`), which an
 * upstream reads as a second request: request smuggling past the proxy's routing and RBAC.
 */
describe('HTTP/2 downstream to HTTP/1.1 upstream: request framing', () => {
  let h: Harness;
  let upstream: net.Server;
  const received: Buffer[] = [];

  before(async () => {
    upstream = net.createServer((s) => {
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const text = got.toString('latin1');
        const headEnd = text.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = text.slice(0, headEnd).toLowerCase();
        const rest = text.slice(headEnd + 4);
        const complete = head.includes('transfer-encoding: chunked') ? rest.endsWith('0\r\n\r\n') : !/content-length: [1-9]/.test(head) || rest.length >= Number(/content-length: (\d+)/.exec(head)![1]);
        if (!complete) return;
        received.push(got);
        s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('raw', [['127.0.0.1', (upstream.address() as net.AddressInfo).port]])],
      listeners: [{ name: 'in', address: address('0.0.0.0', 15006), filterChains: [{ filters: [hcm('in')] }] }],
      routes: [routeConfig('in', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'raw' })])])],
    });
  });

  after(async () => {
    await h.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  const send = (method: string, body: string | undefined, extra: Record<string, string> = {}): Promise<number> =>
    new Promise((resolve, reject) => {
      const c = http2.connect(`http://127.0.0.1:${h.port('in')}`);
      c.on('error', reject);
      const req = c.request({ ':method': method, ':path': '/p', ':authority': 'app', ...extra }, { endStream: body === undefined });
      req.on('response', (hd) => {
        req.resume();
        req.on('end', () => {
          c.close();
          resolve(Number(hd[':status']));
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.end(body);
    });

  it('sends a GET body without content-length chunked, so the smuggled bytes stay body', async () => {
    received.length = 0;
    const smuggled = 'GET /admin HTTP/1.1\r\nhost: app\r\n\r\n';
    assert.equal(await send('GET', smuggled), 200);
    const wire = received[0].toString('latin1');
    const [head, body] = [wire.slice(0, wire.indexOf('\r\n\r\n')), wire.slice(wire.indexOf('\r\n\r\n') + 4)];
    assert.match(head, /^GET \/p HTTP\/1\.1\r\n/);
    assert.match(head.toLowerCase(), /\r\ntransfer-encoding: chunked(\r\n|$)/);
    assert.equal(body, `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`);
  });

  it('keeps content-length when the client sent one, and sends no body for a request ended with its headers', async () => {
    received.length = 0;
    assert.equal(await send('POST', 'abc', { 'content-length': '3' }), 200);
    assert.equal(await send('GET', undefined), 200);
    const [withLength, bodiless] = received.map((b) => b.toString('latin1'));
    assert.match(withLength.toLowerCase(), /\r\ncontent-length: 3\r\n/);
    assert.doesNotMatch(withLength.toLowerCase(), /transfer-encoding/);
    assert.ok(withLength.endsWith('\r\n\r\nabc'));
    assert.doesNotMatch(bodiless.toLowerCase(), /transfer-encoding|content-length: [1-9]/);
    assert.ok(bodiless.endsWith('\r\n\r\n'));
  });
});
