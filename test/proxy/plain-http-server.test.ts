import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PlainHttpServer } from '../../src/data/admin/plain-http-server.ts';

/** Send raw bytes, collect everything until the server closes (or `until` matches). */
function raw(port: number, data: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let out = '';
    s.on('data', (c) => {
      out += c;
      if (until?.test(out)) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

describe('PlainHttpServer', () => {
  let server: PlainHttpServer;
  let port: number;
  const seen: string[] = [];

  before(async () => {
    server = new PlainHttpServer(async (req) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/slow') await new Promise((r) => setTimeout(r, 20));
      if (req.url === '/throw') throw new Error('boom');
      return { status: req.url === '/missing' ? 404 : 200, contentType: 'text/plain', body: `you asked ${req.method} ${req.url}\n` };
    });
    port = await server.listen('127.0.0.1', 0);
  });
  after(() => server.close());

  it('answers node:http clients with keep-alive, status, content type and length', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = (path: string): Promise<{ status: number; type: string; body: string }> =>
        new Promise((resolve, reject) => {
          http.get({ port, host: '127.0.0.1', path, agent }, (res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
          }).on('error', reject);
        });
      assert.deepEqual(await get('/a?x=1'), { status: 200, type: 'text/plain', body: 'you asked GET /a?x=1\n' });
      assert.deepEqual(await get('/missing'), { status: 404, type: 'text/plain', body: 'you asked GET /missing\n' });
    } finally {
      agent.destroy();
    }
  });

  it('answers pipelined requests in order, even when an earlier one is slower', async () => {
    const out = await raw(port, 'GET /slow HTTP/1.1\r\nhost: x\r\n\r\nGET /fast HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    const first = out.indexOf('you asked GET /slow');
    const second = out.indexOf('you asked GET /fast');
    assert.ok(first >= 0 && second > first, out);
    assert.match(out, /connection: close/);
  });

  it('reads and ignores a content-length body (POST)', async () => {
    const out = await raw(port, 'POST /quit HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello');
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /you asked POST \/quit\n$/);
  });

  it('closes HTTP/1.0 connections after the response unless keep-alive is asked for', async () => {
    const out = await raw(port, 'GET /old HTTP/1.0\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n[^]*connection: close\r\n/);
  });

  it('refuses malformed requests and chunked bodies, and turns a handler error into a 500', async () => {
    assert.match(await raw(port, 'NOT A REQUEST\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.match(await raw(port, 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'), /^HTTP\/1\.1 411 /);
    assert.match(await raw(port, 'GET /throw HTTP/1.1\r\nconnection: close\r\n\r\n'), /^HTTP\/1\.1 500 [^]*boom/);
  });

  it('sends no body for HEAD but the GET length', async () => {
    const out = await raw(port, 'HEAD /h HTTP/1.1\r\nconnection: close\r\n\r\n');
    assert.match(out, /content-length: 18\r\n/);
    assert.ok(out.endsWith('\r\n\r\n'));
  });
});
