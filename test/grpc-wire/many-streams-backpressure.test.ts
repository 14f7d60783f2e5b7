/**
 * Many busy streams on one HTTP/2 connection, both directions full at once (what 100 simulated
 * proxies subscribing by name do to discovery: megabytes of EDS names in, hundreds of megabytes
 * of endpoints out). Node's HTTP/2 stops reading a connection while a socket write is pending;
 * two such peers that each queue more than the kernel's socket buffers hold used to wait on each
 * other forever. The server must keep reading while its responses wait for the client.
 * Real gRPC (the project's server and channel, over loopback TCP and TLS); no mocks.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GrpcChannel } from '../../src/lib/grpc-wire/grpc-channel.ts';
import type { GrpcClientStream } from '../../src/lib/grpc-wire/grpc-client-stream.ts';
import { GrpcServer, type GrpcServerTls } from '../../src/lib/grpc-wire/grpc-server.ts';
import { SessionReadKicker } from '../../src/lib/grpc-wire/session-read-kicker.ts';
import { createServer, connect, type Socket } from 'node:net';
import type { GrpcServerStream } from '../../src/lib/grpc-wire/grpc-server-stream.ts';
import { issueWith, makeCa } from '../proxy/support/test-pki.ts';

const PATH = '/test.Wire/Flood';
const STREAMS = 100;
/** Each stream's request: larger than a socket buffer once multiplied by the streams. */
const REQUEST_BYTES = 96 * 1024;
/** Each answer (one shared body, written to every stream twice). */
const RESPONSE_BYTES = 256 * 1024;
const TIMEOUT_MS = Number(process.env.FLOOD_TIMEOUT_MS ?? 120_000);

function floodServer(): GrpcServer {
  const server = new GrpcServer({ windowBytes: 16 * 1024 * 1024, maxReceiveMessageBytes: 4 * 1024 * 1024 });
  const body = Buffer.alloc(RESPONSE_BYTES, 7);
  server.addStream(PATH, (call: GrpcServerStream) => {
    let answered = 0;
    call.on('message', () => {
      // Two answers per request, as discovery sends EDS and then RDS on one stream.
      for (let i = 0; i < 2; i++) call.write([body]);
      if (++answered === 2) call.end();
    });
    call.on('end', () => call.end());
  });
  return server;
}

/** Open STREAMS streams on one channel, send every request at once, wait for every answer. */
async function flood(channel: GrpcChannel, timeoutMs: number): Promise<{ received: number; done: number }> {
  let received = 0;
  let done = 0;
  const request = Buffer.alloc(REQUEST_BYTES, 1);
  const streams: GrpcClientStream[] = [];
  const all = new Promise<void>((resolve, reject) => {
    for (let i = 0; i < STREAMS; i++) {
      const s = channel.openStream(PATH, {
        maxReceiveMessageBytes: 8 * 1024 * 1024,
        onMessage: (m) => {
          received += m.length;
          // The second request (as an ACK plus a new subscription) goes out while answers stream in.
          if (received > 0 && m.length === RESPONSE_BYTES) s.write(request);
        },
        onStatus: (st) => {
          if (st.code !== 0) reject(new Error(`stream ${i}: ${st.code} ${st.message}`));
          else if (++done === STREAMS) resolve();
        },
      });
      streams.push(s);
    }
    for (const s of streams) s.write(request);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  await Promise.race([all, timeout]);
  clearTimeout(timer);
  for (const s of streams) s.cancel();
  return { received, done };
}

describe('a hundred busy streams on one HTTP/2 connection', { timeout: 400_000 }, () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('plaintext: every stream gets all its answers (no read/write deadlock)', async () => {
    const server = floodServer();
    cleanup.push(() => server.forceClose());
    const address = await server.listen({ host: '127.0.0.1', port: 0 });
    const channel = new GrpcChannel({ target: address, maxReceiveMessageBytes: 8 * 1024 * 1024 });
    cleanup.push(() => channel.close());
    const r = await flood(channel, TIMEOUT_MS);
    assert.equal(r.done, STREAMS, `streams finished: ${r.done}/${STREAMS}, ${(r.received / 1048576).toFixed(0)} MiB received`);
    assert.equal(r.received, STREAMS * 4 * RESPONSE_BYTES);
  });

  it('sessions run on the native socket (kicked), not through the slower JavaScript fallback', async () => {
    // If a Node upgrade took away the native stream, the deadlock would still be avoided (the
    // fallback Duplex), but every byte discovery sends would pass through JavaScript again.
    const accepted = new Promise<Socket>((resolve) => {
      const srv = createServer((s) => {
        resolve(s);
        srv.close();
      });
      srv.listen(0, '127.0.0.1', () => {
        const c = connect((srv.address() as { port: number }).port, '127.0.0.1');
        cleanup.push(() => c.destroy());
      });
    });
    const socket = await accepted;
    cleanup.push(() => socket.destroy());
    assert.equal(SessionReadKicker.canKick(socket), true);
  });

  it('TLS: the same over ALPN h2', async () => {
    const ca = await makeCa('many-streams-test');
    const cert = issueWith(ca, { dns: ['localhost'] });
    const tls: GrpcServerTls = { contextOptions: () => ({ key: cert.keyPem, cert: cert.certPem, ca: ca.certPem }), requestClientCertificate: false };
    const server = floodServer();
    cleanup.push(() => server.forceClose());
    const address = await server.listen({ host: '127.0.0.1', port: 0 }, tls);
    const channel = new GrpcChannel({ target: address, tls: { rootCertPem: ca.certPem, serverName: 'localhost' }, maxReceiveMessageBytes: 8 * 1024 * 1024 });
    cleanup.push(() => channel.close());
    const r = await flood(channel, TIMEOUT_MS);
    assert.equal(r.done, STREAMS, `streams finished: ${r.done}/${STREAMS}, ${(r.received / 1048576).toFixed(0)} MiB received`);
    assert.equal(r.received, STREAMS * 4 * RESPONSE_BYTES);
  });
});
