import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GrpcChannel } from '../../src/lib/grpc-wire/grpc-channel.ts';
import type { GrpcStreamStatus } from '../../src/lib/grpc-wire/grpc-client-stream.ts';
import { GrpcStatus } from '../../src/lib/grpc-wire/grpc-status.ts';
import { serverPki, TestGrpcServer } from './support/test-grpc-server.ts';

interface Collected {
  messages: Buffer[];
  status: Promise<GrpcStreamStatus>;
}

function collect(channel: GrpcChannel, path: string, metadata?: Record<string, string>, maxReceiveMessageBytes?: number): Collected & { stream: ReturnType<GrpcChannel['openStream']> } {
  const messages: Buffer[] = [];
  let done!: (s: GrpcStreamStatus) => void;
  const status = new Promise<GrpcStreamStatus>((r) => (done = r));
  const stream = channel.openStream(path, { metadata, maxReceiveMessageBytes, onMessage: (m) => messages.push(m), onStatus: done });
  return { messages, status, stream };
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('GrpcChannel (plaintext, against grpc-js)', () => {
  const server = new TestGrpcServer();
  let channel: GrpcChannel;
  before(async () => {
    const port = await server.start('127.0.0.1:0');
    channel = new GrpcChannel({ target: `127.0.0.1:${port}`, maxReceiveMessageBytes: 64 * 1024 * 1024, keepaliveMs: 30_000 });
  });
  after(async () => {
    channel.close();
    await server.stop();
  });

  it('makes a unary call with metadata and reads the trailers', async () => {
    const r = await channel.unary('/test.Wire/Echo', Buffer.from('hello'), { metadata: { authorization: 'Bearer abc' } });
    assert.equal(r.status.code, GrpcStatus.OK, r.status.message);
    assert.equal(r.message?.toString(), 'hello');
    assert.equal(r.trailers['x-trailer'], 'yes');
    assert.equal(server.record.metadata.at(-1)?.get('authorization')[0], 'Bearer abc');
    assert.match(String(server.record.metadata.at(-1)?.get('user-agent')[0]), /mizzen/);
  });

  it('takes metadata from an async source per call', async () => {
    const r = await channel.unary('/test.Wire/Echo', Buffer.from('x'), { metadata: async () => ({ authorization: 'Bearer from-file' }) });
    assert.equal(r.status.code, GrpcStatus.OK);
    assert.equal(server.record.metadata.at(-1)?.get('authorization')[0], 'Bearer from-file');
  });

  it('returns an error status as a value, with the percent-encoded message decoded', async () => {
    const msg = 'bad: 100% sure \n ünïcode';
    const r = await channel.unary('/test.Wire/Fail', Buffer.from(`${GrpcStatus.INVALID_ARGUMENT}:${msg}`));
    assert.equal(r.status.code, GrpcStatus.INVALID_ARGUMENT);
    assert.equal(r.status.message, msg);
    assert.equal(r.message, undefined);
  });

  it('ends a call past its deadline with DEADLINE_EXCEEDED, and the server sees the cancellation', async () => {
    const r = await channel.unary('/test.Wire/Hang', Buffer.from('x'), { deadlineMs: 200 });
    assert.equal(r.status.code, GrpcStatus.DEADLINE_EXCEEDED);
    const timeout = server.record.metadata.at(-1);
    assert.ok(timeout, 'the server got the call');
  });

  it('answers UNIMPLEMENTED for an unknown method', async () => {
    const r = await channel.unary('/test.Wire/Nope', Buffer.from('x'));
    assert.equal(r.status.code, GrpcStatus.UNIMPLEMENTED);
  });

  it('streams many messages both ways and ends with the server status and trailers', async () => {
    const c = collect(channel, '/test.Wire/Chat', { 'x-who': 'chat' });
    const before = server.record.received.length;
    const n = 2000;
    for (let i = 0; i < n; i++) c.stream.write(Buffer.from(`m${i}`));
    c.stream.end();
    const st = await c.status;
    assert.equal(st.code, GrpcStatus.OK, st.message);
    assert.equal(c.messages.length, n);
    assert.deepEqual(c.messages.slice(0, 3).map(String), ['m0', 'm1', 'm2']);
    assert.equal(c.messages.at(-1)?.toString(), `m${n - 1}`);
    assert.equal(server.record.received.length - before, n);
    assert.equal(st.trailers['x-count'], String(server.record.received.length));
  });

  it('carries a 10 MB message each way (split across many DATA frames)', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const c = collect(channel, '/test.Wire/Chat');
    c.stream.write(big);
    c.stream.write(Buffer.from('after'));
    c.stream.end();
    const st = await c.status;
    assert.equal(st.code, GrpcStatus.OK, st.message);
    assert.equal(c.messages.length, 2);
    assert.ok(c.messages[0]!.equals(big), 'the 10 MB message came back intact');
    assert.equal(c.messages[1]!.toString(), 'after');
  });

  it('hands a 3 MB message over as the parts it arrived in (onMessagePart), never joined', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const messages: Buffer[][] = [[]];
    let done!: (s: GrpcStreamStatus) => void;
    const status = new Promise<GrpcStreamStatus>((r) => (done = r));
    const stream = channel.openStream('/test.Wire/Chat', {
      onMessagePart: (part, last) => {
        messages.at(-1)!.push(part);
        if (last) messages.push([]);
      },
      onMessage: () => assert.fail('onMessage is not called when onMessagePart is set'),
      onStatus: done,
    });
    stream.write(big);
    stream.write(Buffer.alloc(0));
    stream.end();
    const st = await status;
    assert.equal(st.code, GrpcStatus.OK, st.message);
    assert.equal(messages.length, 3, 'two messages, then the open slot');
    assert.ok(messages[0]!.length > 1, `the 3 MB message came in ${messages[0]!.length} parts`);
    assert.ok(Buffer.concat(messages[0]!).equals(big));
    assert.equal(Buffer.concat(messages[1]!).length, 0, 'the empty message is one empty last part');
  });

  it('reports RESOURCE_EXHAUSTED when a response exceeds the receive limit', async () => {
    const c = collect(channel, '/test.Wire/Chat', undefined, 1024);
    c.stream.write(Buffer.alloc(2048));
    const st = await c.status;
    assert.equal(st.code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.match(st.message, /larger than max/);
  });

  it('delivers messages before a server-sent error status', async () => {
    const c = collect(channel, '/test.Wire/Abort');
    const st = await c.status;
    assert.equal(st.code, GrpcStatus.ABORTED);
    assert.equal(st.message, 'aborted by test');
    assert.deepEqual(c.messages.map(String), ['one', 'two']);
  });

  it('cancels a stream: CANCELLED locally, and the server sees the cancellation', async () => {
    const c = collect(channel, '/test.Wire/Watch');
    const before = server.record.cancelled;
    c.stream.write(Buffer.from('ping'));
    await waitFor(() => c.messages.length === 1, 'the ack');
    c.stream.cancel();
    const st = await c.status;
    assert.equal(st.code, GrpcStatus.CANCELLED);
    await waitFor(() => server.record.cancelled === before + 1, 'server-side cancellation');
  });
});

describe('GrpcChannel (failures and transports)', () => {
  it('reports UNAVAILABLE when nothing listens, for unary and streams', async () => {
    const probe = http2.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const channel = new GrpcChannel({ target: `127.0.0.1:${port}` });
    try {
      const r = await channel.unary('/test.Wire/Echo', Buffer.from('x'));
      assert.equal(r.status.code, GrpcStatus.UNAVAILABLE);
      assert.match(r.status.message, /ECONNREFUSED/);
      const c = collect(channel, '/test.Wire/Chat');
      c.stream.write(Buffer.from('x'));
      assert.equal((await c.status).code, GrpcStatus.UNAVAILABLE);
    } finally {
      channel.close();
    }
  });

  it('maps an HTTP status without grpc-status (404 → UNIMPLEMENTED, 503 → UNAVAILABLE)', async () => {
    const h2 = http2.createServer();
    h2.on('stream', (s: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      s.respond({ ':status': headers[':path'] === '/a/Missing' ? 404 : 503, 'content-type': 'text/plain' });
      s.end('not grpc');
    });
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const channel = new GrpcChannel({ target: `127.0.0.1:${(h2.address() as { port: number }).port}` });
    try {
      assert.equal((await channel.unary('/a/Missing', Buffer.from('x'))).status.code, GrpcStatus.UNIMPLEMENTED);
      const r = await channel.unary('/a/Busy', Buffer.from('x'));
      assert.equal(r.status.code, GrpcStatus.UNAVAILABLE);
      assert.match(r.status.message, /HTTP status code 503/);
    } finally {
      channel.close();
      await new Promise<void>((r) => h2.close(() => r()));
    }
  });

  it('reconnects on the next call after the server went away and came back', async () => {
    let server = new TestGrpcServer();
    const port = await server.start('127.0.0.1:0');
    const channel = new GrpcChannel({ target: `127.0.0.1:${port}` });
    try {
      assert.equal((await channel.unary('/test.Wire/Echo', Buffer.from('1'))).status.code, GrpcStatus.OK);
      const c = collect(channel, '/test.Wire/Watch');
      c.stream.write(Buffer.from('x'));
      await waitFor(() => c.messages.length === 1, 'stream open');
      await server.stop();
      assert.equal((await c.status).code, GrpcStatus.UNAVAILABLE);
      server = new TestGrpcServer();
      await server.start(`127.0.0.1:${port}`);
      assert.equal((await channel.unary('/test.Wire/Echo', Buffer.from('2'))).status.code, GrpcStatus.OK);
    } finally {
      channel.close();
      await server.stop();
    }
  });

  it('speaks TLS with a root PEM and a server-name override (SNI and verification)', async () => {
    const pki = await serverPki('istiod.istio-system.svc');
    const server = new TestGrpcServer();
    const port = await server.start('127.0.0.1:0', pki);
    const good = new GrpcChannel({ target: `127.0.0.1:${port}`, tls: { rootCertPem: pki.ca.certPem, serverName: 'istiod.istio-system.svc' } });
    const wrongName = new GrpcChannel({ target: `127.0.0.1:${port}`, tls: { rootCertPem: pki.ca.certPem } });
    const other = await serverPki('istiod.istio-system.svc');
    const wrongRoot = new GrpcChannel({ target: `127.0.0.1:${port}`, tls: { rootCertPem: other.ca.certPem, serverName: 'istiod.istio-system.svc' } });
    try {
      const r = await good.unary('/test.Wire/Echo', Buffer.from('secure'));
      assert.equal(r.status.code, GrpcStatus.OK, r.status.message);
      assert.equal(r.message?.toString(), 'secure');
      assert.equal(server.record.metadata.at(-1)?.get(':authority').length ?? 0, 0);
      const bad = await wrongName.unary('/test.Wire/Echo', Buffer.from('x'));
      assert.equal(bad.status.code, GrpcStatus.UNAVAILABLE);
      assert.match(bad.status.message, /127\.0\.0\.1|altnames|IP/i);
      const untrusted = await wrongRoot.unary('/test.Wire/Echo', Buffer.from('x'));
      assert.equal(untrusted.status.code, GrpcStatus.UNAVAILABLE);
    } finally {
      good.close();
      wrongName.close();
      wrongRoot.close();
      await server.stop();
    }
  });

  it('sends keepalive PINGs while a call is open', async () => {
    const h2 = http2.createServer();
    let pings = 0;
    h2.on('session', (sess: http2.ServerHttp2Session) => sess.on('ping', () => pings++));
    h2.on('stream', (s: http2.ServerHttp2Stream) => s.respond({ ':status': 200, 'content-type': 'application/grpc' }));
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const channel = new GrpcChannel({ target: `127.0.0.1:${(h2.address() as { port: number }).port}`, keepaliveMs: 20 });
    try {
      const c = collect(channel, '/a/Hold');
      await waitFor(() => pings >= 2, 'two keepalive pings');
      c.stream.cancel();
      assert.equal((await c.status).code, GrpcStatus.CANCELLED);
    } finally {
      channel.close();
      await new Promise<void>((r) => h2.close(() => r()));
    }
  });

  it('drops a connection whose peer stops acknowledging PINGs: open calls end UNAVAILABLE', async () => {
    // A peer that speaks just enough HTTP/2 (its SETTINGS) and then goes silent.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('error', () => undefined);
      sock.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      sock.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const channel = new GrpcChannel({ target: `127.0.0.1:${(silent.address() as net.AddressInfo).port}`, keepaliveMs: 20, keepaliveTimeoutMs: 50 });
    try {
      const c = collect(channel, '/a/Hold');
      const st = await c.status;
      assert.equal(st.code, GrpcStatus.UNAVAILABLE);
      assert.match(st.message, /keepalive/);
    } finally {
      channel.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('connects over a unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grpc-wire-'));
    const sock = join(dir, 'grpc.sock');
    const server = new TestGrpcServer();
    await server.start(`unix:${sock}`);
    const channel = new GrpcChannel({ target: `unix:${sock}` });
    try {
      const r = await channel.unary('/test.Wire/Echo', Buffer.from('over uds'));
      assert.equal(r.status.code, GrpcStatus.OK, r.status.message);
      assert.equal(r.message?.toString(), 'over uds');
    } finally {
      channel.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
