import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PrematureResetGuard } from '../../src/data/l7/premature-reset-guard.ts';
import { EchoServer } from './support/echo-server.ts';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** HPACK: a literal field without indexing and with a literal name (RFC 7541 6.2.2), lengths < 127. */
function hpack(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [n, v] of fields) parts.push(Buffer.from([0, n.length]), Buffer.from(n, 'latin1'), Buffer.from([v.length]), Buffer.from(v, 'latin1'));
  return Buffer.concat(parts);
}

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

const END_STREAM = 1;
const END_HEADERS = 4;
const request = (path: string, extra: [string, string][] = []): [string, string][] => [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'app'], ...extra];
const headers = (stream: number, fields: [string, string][], end = true) => frame(1, END_HEADERS | (end ? END_STREAM : 0), stream, hpack(fields));
const rst = (stream: number, code: number) => frame(3, 0, stream, Buffer.from([code >>> 24, (code >>> 16) & 255, (code >>> 8) & 255, code & 255]));

/** A raw HTTP/2 (h2c prior knowledge) client: writes frames as given, records what the server sends. */
class RawH2 {
  readonly socket: net.Socket;
  readonly resets = new Map<number, number>();
  readonly responses = new Set<number>();
  readonly bodies = new Map<number, string>();
  goaway: number | undefined;
  lastStreamId = 0;
  /** WINDOW_UPDATE increments the server sent for the connection (stream 0). */
  readonly connectionWindowUpdates: number[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0)]));
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  write(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Resolves when `pred` holds (checked on every frame and on close). */
  until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${typeof what === 'string' ? what : ''}: resets ${JSON.stringify([...this.resets])}, responses ${[...this.responses]}, goaway ${this.goaway}, closed ${this.closed}`)), ms);
      const check = (): void => {
        if (pred()) {
          clearTimeout(t);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const type = this.buf[3];
      const flags = this.buf[4];
      const stream = this.buf.readUInt32BE(5) & 0x7fffffff;
      const p = this.buf.subarray(9, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      if (type === 4 && !(flags & 1)) this.socket.write(frame(4, 1, 0)); // ACK the server's SETTINGS
      else if (type === 3) this.resets.set(stream, p.readUInt32BE(0));
      else if (type === 8 && stream === 0) this.connectionWindowUpdates.push(p.readUInt32BE(0) & 0x7fffffff);
      else if (type === 1) this.responses.add(stream);
      else if (type === 0) this.bodies.set(stream, (this.bodies.get(stream) ?? '') + p.toString());
      else if (type === 7) {
        this.lastStreamId = p.readUInt32BE(0) & 0x7fffffff;
        this.goaway = p.readUInt32BE(4);
      }
    }
    this.notify();
  }
}

function get(session: http2.ClientHttp2Session, path: string, extra: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; rst?: number }> {
  return new Promise((resolve) => {
    const st = session.request({ ':path': path, ':authority': 'app', ...extra });
    let status = 0;
    st.on('response', (h) => (status = Number(h[':status'])));
    st.on('error', () => undefined);
    st.resume();
    st.on('close', () => resolve(status ? { status } : { status: 0, rst: st.rstCode }));
  });
}

describe('HTTP/2 limits on the connection manager (header list, concurrent streams, rapid reset)', () => {
  let h: Harness;
  let app: EchoServer;
  let flooded: EchoServer;
  let port: number;
  let small: number;
  const sessions: http2.ClientHttp2Session[] = [];
  const raws: RawH2[] = [];

  before(async () => {
    app = await new EchoServer('app', (req) => (req.url === '/slow' ? { delayMs: 300 } : undefined), { maxHeaderSize: 256 * 1024 }).start();
    flooded = await new EchoServer('flooded', () => ({ delayMs: 300 })).start();
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]]), staticCluster('flooded', [['127.0.0.1', flooded.port]])],
      listeners: [
        httpListener('default', 15300, 'r'),
        httpListener('small', 15301, 'r', {}, {
          maxRequestHeadersKb: { value: 2 },
          commonHttpProtocolOptions: { maxHeadersCount: { value: 10 } },
          http2ProtocolOptions: { maxConcurrentStreams: { value: 2 }, initialStreamWindowSize: { value: 1_048_576 }, initialConnectionWindowSize: { value: 2_097_152 } },
        }),
      ],
      routes: [routeConfig('r', [vhost('all', ['*'], [route({ prefix: '/flood' }, { cluster: 'flooded' }), route({ prefix: '/' }, { cluster: 'app' })])])],
    });
    port = h.port('default');
    small = h.port('small');
  });

  after(async () => {
    for (const s of sessions) s.destroy();
    for (const r of raws) r.close();
    await h.close();
    await app.stop();
    await flooded.stop();
  });

  const connect = (p: number): http2.ClientHttp2Session => {
    const s = http2.connect(`http://127.0.0.1:${p}`);
    s.on('error', () => undefined);
    sessions.push(s);
    return s;
  };
  const raw = (p: number): RawH2 => {
    const r = new RawH2(p);
    raws.push(r);
    return r;
  };
  const many = (n: number): http2.OutgoingHttpHeaders => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));

  it('resets streams beyond 100 header fields (pseudo-headers included) or 60 KiB, and the connection goes on', async () => {
    const s = connect(port);
    assert.equal((await get(s, '/', many(95))).status, 200); // 4 pseudo + user-agent-less 95 + none = 99
    const over = await get(s, '/', many(101));
    assert.equal(over.status, 0, 'no response');
    assert.equal(over.rst, NGHTTP2_ENHANCE_YOUR_CALM);
    assert.equal((await get(s, '/', { 'x-big': 'a'.repeat(50_000) })).status, 200);
    const big = await get(s, '/', { 'x-big': 'a'.repeat(62 * 1024) });
    assert.equal(big.status, 0);
    assert.equal((await get(s, '/')).status, 200, 'the connection still serves');
  });

  it('honours max_request_headers_kb and max_headers_count for HTTP/2 too', async () => {
    const s = connect(small);
    assert.equal((await get(s, '/', many(6))).status, 200);
    assert.equal((await get(s, '/', many(7))).status, 0);
    assert.equal((await get(s, '/', { 'x-big': 'a'.repeat(2100) })).status, 0);
    assert.equal((await get(s, '/')).status, 200);
  });

  it('advertises and enforces max_concurrent_streams and the initial stream and connection windows', async () => {
    const s = connect(small);
    await new Promise<void>((r) => (s.remoteSettings.maxConcurrentStreams === 2 ? r() : s.once('remoteSettings', () => r())));
    assert.equal(s.remoteSettings.maxConcurrentStreams, 2);
    assert.equal(s.remoteSettings.initialWindowSize, 1_048_576);
    // a client that ignores the setting: the third open stream is refused
    const r = raw(small);
    await r.until(() => r.socket.readyState === 'open', 'connected');
    // initial_connection_window_size: the connection window is opened to 2 MiB at once
    await r.until(() => r.connectionWindowUpdates.length > 0, 'the connection WINDOW_UPDATE');
    assert.equal(r.connectionWindowUpdates[0] + 65_535, 2_097_152);
    r.write(headers(1, request('/slow'), false), headers(3, request('/slow'), false), headers(5, request('/slow'), false));
    // nghttp2 answers the acknowledged limit being exceeded with GOAWAY(PROTOCOL_ERROR) after stream 3
    // (RFC 9113 5.1.2 allows that or a stream reset); the third stream is never served
    await r.until(() => r.resets.has(5) || r.goaway !== undefined, 'the third stream refused');
    if (r.goaway !== undefined) {
      assert.equal(r.goaway, NGHTTP2_PROTOCOL_ERROR);
      assert.equal(r.lastStreamId, 3);
    } else assert.ok([NGHTTP2_REFUSED_STREAM, NGHTTP2_PROTOCOL_ERROR].includes(r.resets.get(5)!), `reset code ${r.resets.get(5)}`);
    assert.ok(!r.responses.has(5) && !r.resets.has(1) && !r.resets.has(3));
    // default: Envoy's 2147483647
    const d = connect(port);
    await new Promise<void>((res) => d.once('remoteSettings', () => res()));
    assert.equal(d.remoteSettings.maxConcurrentStreams, 2147483647);
  });

  it('closes a connection whose streams are mostly reset before any response (rapid reset, CVE-2023-44487)', async () => {
    const r = raw(port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 600; i++) frames.push(headers(2 * i + 1, request('/flood')), rst(2 * i + 1, NGHTTP2_CANCEL));
    r.write(...frames);
    // as Envoy (downstream_rq_too_many_premature_resets) the connection is aborted, no GOAWAY
    await r.until(() => r.closed, 'the proxy closing the connection');
    // the reset streams' upstream requests were cancelled: few (if any) completed at the app
    await new Promise((res) => setTimeout(res, 500));
    assert.ok(flooded.count < 50, `${flooded.count} requests completed upstream`);
  });

  it('keeps a connection whose clients only occasionally reset streams', async () => {
    const s = connect(port);
    for (let batch = 0; batch < 11; batch++) {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 10 === 0 ? cancelled(s) : get(s, `/b${batch}/${i}`))));
      assert.deepEqual(results.filter((x) => x.status !== 200 && x.rst !== NGHTTP2_CANCEL), []);
    }
    assert.equal((await get(s, '/')).status, 200);
    assert.equal(s.closed || s.destroyed, false);
  });

  it('refuses HTTP/2 requests nghttp2 finds malformed (stream reset, nothing forwarded) and drops invalid fields', async () => {
    const before = app.count;
    const r = raw(port);
    r.write(
      headers(1, request('/', [['transfer-encoding', 'chunked']])),
      headers(3, request('/', [['X-Upper', 'v']])),
      headers(5, request('/nul', [['x-nul', 'a\u0000b'], ['x-ok', 'fine']])),
      headers(7, [[':method', 'GET'], [':scheme', 'http'], [':authority', 'app']]),
      headers(9, request('/', [['content-length', '5']]), false),
      frame(0, END_STREAM, 9, Buffer.from('abc')),
      headers(11, request('/fine')),
    );
    await r.until(() => r.responses.has(11) && r.bodies.has(5) && [1, 3, 7, 9].every((id) => r.resets.has(id)), 'resets and answers');
    // connection-specific headers, upper-case names, a missing :path, a body shorter than its content-length
    for (const id of [1, 3, 7, 9]) assert.equal(r.resets.get(id), NGHTTP2_PROTOCOL_ERROR, `stream ${id}`);
    // a value with NUL: nghttp2 drops the field (Node's HTTP/2), it never reaches the app
    const seen = JSON.parse(r.bodies.get(5)!) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-nul'], undefined);
    assert.equal(seen.headers['x-ok'], 'fine');
    assert.equal(app.count - before, 2);
  });

  it("Envoy's premature-reset arithmetic", () => {
    const g = new PrematureResetGuard();
    let closeAt = 0;
    for (let i = 1; i <= 1000 && !closeAt; i++) if (g.onStreamClosed(10, false)) closeAt = i;
    assert.equal(closeAt, 250, 'half of the 500-stream window');
    const ok = new PrematureResetGuard();
    for (let i = 0; i < 2000; i++) assert.equal(ok.onStreamClosed(10, i % 3 !== 0), false, `stream ${i}`);
    const late = new PrematureResetGuard();
    for (let i = 0; i < 400; i++) late.onStreamClosed(10, true);
    let n = 0;
    while (!late.onStreamClosed(10, false)) n++;
    assert.equal(n + 1, 400, 'after the window: premature ≥ half of all streams');
    assert.equal(new PrematureResetGuard(2).onStreamClosed(2500, false), false, 'a stream older than a second is not premature');
  });
});

function cancelled(s: http2.ClientHttp2Session): Promise<{ status: number; rst?: number }> {
  return new Promise((resolve) => {
    const st = s.request({ ':path': '/slow', ':authority': 'app' });
    st.on('error', () => undefined);
    setImmediate(() => st.close(NGHTTP2_CANCEL));
    st.on('close', () => resolve({ status: 0, rst: NGHTTP2_CANCEL }));
  });
}
