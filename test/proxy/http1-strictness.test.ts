import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';
import { exchange, type Exchange } from './support/raw-http.ts';

const H = 'Host: app\r\n';

describe('HTTP/1.1 limits and strictness (Envoy codec behaviour)', () => {
  let h: Harness;
  let app: EchoServer;
  let port: number;
  let small: number;
  let http10: number;

  before(async () => {
    app = await new EchoServer('app', undefined, { maxHeaderSize: 256 * 1024 }).start();
    h = await startHarness();
    const routes = [routeConfig('r', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])];
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [
        httpListener('default', 15200, 'r'),
        httpListener('small', 15201, 'r', {}, { maxRequestHeadersKb: { value: 2 }, commonHttpProtocolOptions: { maxHeadersCount: { value: 5 } } }),
        httpListener('http10', 15202, 'r', {}, { httpProtocolOptions: { acceptHttp_10: true, defaultHostForHttp_10: 'legacy.example' } }),
      ],
      routes,
    });
    port = h.port('default');
    small = h.port('small');
    http10 = h.port('http10');
  });

  after(async () => {
    await h.close();
    await app.stop();
  });

  /** A refusal: status, `connection: close`, the connection closed, nothing reached the app. */
  async function refused(p: number, status: number, ...parts: string[]): Promise<Exchange> {
    const before = app.count;
    const r = await exchange(p, ...parts);
    assert.equal(r.status, status, `${JSON.stringify(parts.join('').slice(0, 120))}: ${r.head.split('\r\n')[0]}`);
    assert.ok(r.closed, 'connection closed');
    assert.match(r.head, /\r\nconnection: close/i);
    assert.equal(app.count, before, 'nothing reached the app');
    return r;
  }

  async function accepted(p: number, ...parts: string[]): Promise<EchoReply> {
    const r = await exchange(p, ...parts);
    assert.equal(r.status, 200, `${JSON.stringify(parts.join('').slice(0, 120))}: ${r.head.split('\r\n')[0]} ${r.body.slice(0, 80)}`);
    return JSON.parse(r.body) as EchoReply;
  }

  const fields = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');

  it('answers 431 above 100 header fields and 60 KiB of head, and honours the HCM limits', async () => {
    await accepted(port, `GET / HTTP/1.1\r\n${H}${fields(98)}Connection: close\r\n\r\n`); // 100 fields
    await refused(port, 431, `GET / HTTP/1.1\r\n${H}${fields(99)}Connection: close\r\n\r\n`);
    await accepted(port, `GET / HTTP/1.1\r\n${H}x-big: ${'a'.repeat(50_000)}\r\nConnection: close\r\n\r\n`);
    await refused(port, 431, `GET / HTTP/1.1\r\n${H}x-big: ${'a'.repeat(62 * 1024)}\r\n\r\n`);
    // incomplete but already too large: answered without waiting for the end of the head
    await refused(port, 431, `GET / HTTP/1.1\r\n${H}x-big: ${'a'.repeat(62 * 1024)}`);
    // max_headers_count 5, max_request_headers_kb 2
    await accepted(small, `GET / HTTP/1.1\r\n${H}${fields(3)}Connection: close\r\n\r\n`);
    await refused(small, 431, `GET / HTTP/1.1\r\n${H}${fields(4)}Connection: close\r\n\r\n`);
    await refused(small, 431, `GET / HTTP/1.1\r\n${H}x: ${'a'.repeat(2100)}\r\n\r\n`);
  });

  it('refuses Content-Length beside Transfer-Encoding (CL.TE and TE.CL smuggling) with 400', async () => {
    await refused(port, 400, `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`);
    await refused(port, 400, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`);
    // folded Transfer-Encoding is still a Transfer-Encoding
    await refused(port, 400, `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`);
  });

  it('answers 501 to transfer codings other than exactly chunked', async () => {
    for (const te of ['chunked, identity', 'gzip, chunked', 'identity', 'xchunked', 'chunked;q=1']) {
      await refused(port, 501, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: ${te}\r\n\r\n0\r\n\r\n`);
    }
    await refused(port, 501, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    const ok = await accepted(port, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\t\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.equal(ok.body, 'hello');
  });

  it('refuses whitespace before the colon, invalid names and values, and bad Content-Length', async () => {
    await refused(port, 400, `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`);
    await refused(port, 400, `GET / HTTP/1.1\r\n${H}x(y): 1\r\n\r\n`);
    await refused(port, 400, `GET / HTTP/1.1\r\n${H}x: a\u0000b\r\n\r\n`);
    await refused(port, 400, `GET / HTTP/1.1\r\n${H}x: a\u0001b\r\n\r\n`);
    await refused(port, 400, `GET / HTTP/1.1\r\n${H}x: a\rb\r\n\r\n`);
    for (const cl of ['+5', '5, 5', '0x5', '-1', '5 5', '99999999999999999999']) {
      await refused(port, 400, `POST / HTTP/1.1\r\n${H}Content-Length: ${cl}\r\n\r\nhello`);
    }
    await refused(port, 400, `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`);
    const same = await accepted(port, `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
    assert.equal(same.body, 'hello');
  });

  it('refuses bare LF line ends with 400 at once, also in an incomplete head', async () => {
    await refused(port, 400, 'GET / HTTP/1.1\nHost: app\n\n');
    await refused(port, 400, 'GET / HTTP/1.1\nHost: app\n');
    await refused(port, 400, `GET / HTTP/1.1\r\n${H}x: a\nTransfer-Encoding: chunked\r\n\r\n`);
  });

  it('refuses NUL, spaces, controls and bytes above 0x7E in the request target, unknown methods and versions', async () => {
    for (const target of ['/a\u0000b', '/a b', '/a\tb', '/caf\u00e9', '/a\u007f']) await refused(port, 400, `GET ${target} HTTP/1.1\r\n${H}\r\n`);
    await refused(port, 400, `FOO / HTTP/1.1\r\n${H}\r\n`);
    await refused(port, 400, `GET / HTTP/1.2\r\n${H}\r\n`);
    await refused(port, 400, `GET / HTTP/1.1 extra\r\n${H}\r\n`);
  });

  it('refuses a missing, repeated or invalid Host on HTTP/1.1', async () => {
    await refused(port, 400, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    await refused(port, 400, `GET / HTTP/1.1\r\n${H}Host: other\r\n\r\n`);
    await refused(port, 400, 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n');
    await refused(port, 400, 'GET / HTTP/1.1\r\nHost: a"b\r\n\r\n');
  });

  it('answers HTTP/1.0 with 426 unless the HCM accepts it (default host from the HCM)', async () => {
    await refused(port, 426, 'GET / HTTP/1.0\r\n\r\n');
    const r = await accepted(http10, 'GET /old HTTP/1.0\r\n\r\n');
    assert.equal(r.url, '/old');
    assert.equal(r.headers.host, 'legacy.example');
  });

  it('reads absolute-form targets as Envoy does: the target names the host, the app gets origin-form', async () => {
    const r = await accepted(port, `GET http://absolute.example:8080/x/../y?q=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n`);
    assert.equal(r.headers.host, 'absolute.example:8080');
    assert.equal(r.url, '/x/../y?q=1');
    assert.equal((await accepted(port, `GET HTTP://h.example HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)).url, '/');
    await refused(port, 400, `GET ftp://h.example/x HTTP/1.1\r\n${H}\r\n`);
    await refused(port, 400, `GET nonsense HTTP/1.1\r\n${H}\r\n`);
    await refused(port, 400, `GET http://user@h.example/x HTTP/1.1\r\n${H}\r\n`);
  });

  it('unfolds obs-fold values and skips empty lines before a request', async () => {
    const r = await accepted(port, `\r\n\r\nGET / HTTP/1.1\r\n${H}X-Folded: a\r\n  b\r\nConnection: close\r\n\r\n`);
    assert.equal(r.headers['x-folded'], 'a  b');
  });

  it('refuses malformed chunked bodies with 400 (and never completes them upstream)', async () => {
    const head = `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`;
    const bodies = [
      'zz\r\nhello\r\n0\r\n\r\n', // not hex
      'fffffffffffffffffff\r\n', // overflowing size
      '0x5\r\nhello\r\n0\r\n\r\n',
      ' 5\r\nhello\r\n0\r\n\r\n',
      '5\nhello\r\n0\r\n\r\n', // bare LF after the size
      '5;ext\nhello\r\n0\r\n\r\n', // bare LF in an extension
      '5\r\nhelloXX\r\n0\r\n\r\n', // data longer than its size
      '5\r\nhello\n0\r\n\r\n', // bare LF after the data
      '5\r\nhello\r\n0\r\nx: y\n\r\n', // bare LF in a trailer
      '5\r\nhello\r\n0\r\n\r\r', // bare CR at the end
    ];
    for (const b of bodies) {
      const before = app.count;
      const r = await exchange(port, head, b);
      assert.equal(r.status, 400, JSON.stringify(b));
      assert.ok(r.closed);
      assert.equal(app.count, before, `${JSON.stringify(b)} reached the app as a complete request`);
    }
    const ok = await accepted(port, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n`, '5;name=v\r\nhello\r\n', 'A\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n');
    assert.equal(ok.body, 'hello0123456789');
  });
});
