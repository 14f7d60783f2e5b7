import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { GrpcServer, type GrpcServerTls } from '../../src/lib/grpc-wire/grpc-server.ts';
import type { GrpcServerStream } from '../../src/lib/grpc-wire/grpc-server-stream.ts';
import { GrpcStatus } from '../../src/lib/grpc-wire/grpc-status.ts';
import { toPem } from '../../src/lib/pem.ts';
import {
  basicConstraintsExtension, buildCertificate, distinguishedName, extKeyUsageExtension, KEY_USAGE, keyUsageExtension,
  OID, randomSerial, subjectAltNameExtension,
} from '../../src/lib/x509-builder.ts';
import { issue, makeCa, type TestCa } from '../proxy/support/test-pki.ts';

const raw = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
const Client = grpc.makeGenericClientConstructor(
  {
    Echo: { path: '/test.Wire/Echo', requestStream: false, responseStream: false, ...raw },
    Fail: { path: '/test.Wire/Fail', requestStream: false, responseStream: false, ...raw },
    Slow: { path: '/test.Wire/Slow', requestStream: false, responseStream: false, ...raw },
    WhoAmI: { path: '/test.Wire/WhoAmI', requestStream: false, responseStream: false, ...raw },
    Missing: { path: '/test.Wire/Missing', requestStream: false, responseStream: false, ...raw },
    Chat: { path: '/test.Wire/Chat', requestStream: true, responseStream: true, ...raw },
    Hold: { path: '/test.Wire/Hold', requestStream: true, responseStream: true, ...raw },
    Big: { path: '/test.Wire/Big', requestStream: true, responseStream: true, ...raw },
    Shared: { path: '/test.Wire/Shared', requestStream: true, responseStream: true, ...raw },
    Transient: { path: '/test.Wire/Transient', requestStream: true, responseStream: true, ...raw },
  },
  'Wire',
);
type AnyClient = Record<string, (...args: unknown[]) => unknown> & grpc.Client;
type Duplex = grpc.ClientDuplexStream<Buffer, Buffer>;

function unary(client: AnyClient, method: string, req: Buffer, options: grpc.CallOptions = {}, md = new grpc.Metadata()): Promise<{ res?: Buffer; err?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    client[method]!(req, md, options, (err: grpc.ServiceError | null, res?: Buffer) => resolve(err ? { err } : { res: res! }));
  });
}

function duplexStatus(call: Duplex): Promise<grpc.StatusObject> {
  // A non-OK status is also an 'error' event: the status is what the tests look at.
  call.on('error', () => {});
  return new Promise((resolve) => call.on('status', resolve));
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A server certificate for `localhost`, signed by `ca`. */
function serverCert(ca: TestCa): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: distinguishedName([{ oid: OID.commonName, value: 'localhost' }]),
    notBefore: Date.now() - 60_000,
    notAfter: Date.now() + 86_400_000,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [
      basicConstraintsExtension(false),
      keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]),
      extKeyUsageExtension([OID.serverAuth]),
      subjectAltNameExtension({ dns: ['localhost'] }, false),
    ],
    signingKey: ca.key,
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}

/** Handlers shared by the plaintext and TLS listeners; `seen` records what the server observed. */
function buildServer(options: ConstructorParameters<typeof GrpcServer>[0] = {}): { server: GrpcServer; seen: { cancelled: number; slowAborted: number; drains: number; sawBackpressure: boolean } } {
  const server = new GrpcServer(options);
  const seen = { cancelled: 0, slowAborted: 0, drains: 0, sawBackpressure: false };
  server.addUnary('/test.Wire/Echo', (req, call) => ({ response: Buffer.concat([Buffer.from(`${call.metadata.get('x-tag') ?? ''}:`), req]) }));
  server.addUnary('/test.Wire/Fail', () => ({ status: { code: GrpcStatus.INVALID_ARGUMENT, message: 'bad 100% ünïcode\nline' } }));
  server.addUnary('/test.Wire/Slow', (_req, call) =>
    new Promise((resolve) => {
      call.signal.addEventListener('abort', () => {
        seen.slowAborted++;
        resolve({ response: Buffer.from('too late') });
      });
    }),
  );
  server.addUnary('/test.Wire/WhoAmI', (_req, call) => ({
    response: Buffer.from(call.peer.certificate ? new X509Certificate(call.peer.certificate).subjectAltName ?? 'no-san' : 'anonymous'),
  }));
  server.addStream('/test.Wire/Chat', (s: GrpcServerStream) => {
    s.on('message', (m: Buffer) => s.write([Buffer.from('re:'), m]));
    s.on('end', () => s.end(GrpcStatus.OK));
  });
  // Answers and never ends by itself: a grpc-js cancel half-closes before its RST_STREAM.
  server.addStream('/test.Wire/Hold', (s: GrpcServerStream) => {
    s.on('message', (m: Buffer) => s.write([m]));
    s.on('cancelled', () => seen.cancelled++);
  });
  server.addStream('/test.Wire/Big', (s: GrpcServerStream) => {
    s.on('message', (m: Buffer) => {
      // Answer with the request's hash, then the request back in three parts (one message).
      s.write([Buffer.from(sha(m))]);
      const third = Math.floor(m.length / 3);
      const ok = s.write([m.subarray(0, third), m.subarray(third, 2 * third), m.subarray(2 * third)], () => s.end(GrpcStatus.OK));
      if (!ok) {
        seen.sawBackpressure = true;
        s.once('drain', () => seen.drains++);
      }
    });
  });
  return { server, seen };
}

describe('GrpcServer (plaintext, grpc-js clients)', () => {
  const { server, seen } = buildServer({ maxReceiveMessageBytes: 16 * 1024 * 1024 });
  const shared = randomBytes(1024 * 1024);
  let address: string;
  let client: AnyClient;
  before(async () => {
    server.addStream('/test.Wire/Shared', (s: GrpcServerStream) => {
      s.once('message', (m: Buffer) => {
        // A per-stream head and tail around the same 1 MiB body, several times.
        let left = 3;
        const next = (): void => {
          if (left-- === 0) return s.end(GrpcStatus.OK);
          s.write([Buffer.from(`${m.toString()}#${left}|`), shared, Buffer.from('|end')], next);
        };
        next();
      });
    });
    // Messages assembled in memory shared by the server's streams: read during the event only.
    server.addStream('/test.Wire/Transient', (s: GrpcServerStream) => {
      s.on('message', (m: Buffer) => s.write([Buffer.from(sha(m))]));
      s.on('end', () => s.end(GrpcStatus.OK));
    }, { transientMessages: true });
    address = await server.listen({ host: '127.0.0.1', port: 0 });
    client = new Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 }) as unknown as AnyClient;
  });
  after(async () => {
    client.close();
    await server.close(1000);
  });

  it('answers a unary call with the handler response and sees the metadata', async () => {
    const md = new grpc.Metadata();
    md.set('x-tag', 'hello');
    const r = await unary(client, 'Echo', Buffer.from('ping'), {}, md);
    assert.equal(r.err, undefined);
    assert.equal(r.res!.toString(), 'hello:ping');
  });

  it('ends a unary call with the handler status and a percent-encoded message', async () => {
    const r = await unary(client, 'Fail', Buffer.from('x'));
    assert.equal(r.err?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(r.err?.details, 'bad 100% ünïcode\nline');
  });

  it('answers an unknown method UNIMPLEMENTED', async () => {
    const r = await unary(client, 'Missing', Buffer.from('x'));
    assert.equal(r.err?.code, grpc.status.UNIMPLEMENTED);
  });

  it('enforces grpc-timeout on unary calls and aborts the handler', async () => {
    const before = seen.slowAborted;
    const r = await unary(client, 'Slow', Buffer.from('x'), { deadline: Date.now() + 200 });
    assert.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED);
    await waitFor(() => seen.slowAborted > before, 'the handler to see the deadline');
  });

  it('streams many messages both ways on one bidi call and ends with OK', async () => {
    const call = (client as unknown as { Chat(): Duplex }).Chat();
    const got: string[] = [];
    call.on('data', (b: Buffer) => got.push(b.toString()));
    const status = duplexStatus(call);
    for (let i = 0; i < 2000; i++) call.write(Buffer.from(`m${i}`));
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    assert.equal(got.length, 2000);
    assert.equal(got[0], 're:m0');
    assert.equal(got[1999], 're:m1999');
  });

  it('receives and sends a 10 MB message split across HTTP/2 frames, reporting backpressure', async () => {
    const big = randomBytes(10 * 1024 * 1024);
    const call = (client as unknown as { Big(): Duplex }).Big();
    const got: Buffer[] = [];
    call.on('data', (b: Buffer) => got.push(b));
    const status = duplexStatus(call);
    call.write(big);
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.toString(), sha(big));
    assert.ok(got[1]!.equals(big), 'the 10 MB echo arrives intact');
    assert.ok(seen.sawBackpressure, 'a 10 MB write reports backpressure');
    await waitFor(() => seen.drains > 0, "'drain' after the client read it");
  });

  it('delivers multi-frame messages intact to a transientMessages route, many streams interleaved', async () => {
    // 40 KB (an Envoy's EDS ACK: three DATA frames), 200 KB, and 2 MB (beyond the shared memory's bound).
    const sizes = [40 * 1024, 200 * 1024, 40 * 1024 + 7, 2 * 1024 * 1024, 40 * 1024];
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const call = (client as unknown as { Transient(): Duplex }).Transient();
        const got: string[] = [];
        call.on('data', (b: Buffer) => got.push(b.toString()));
        const status = duplexStatus(call);
        const sent = sizes.map((n) => randomBytes(n + i));
        for (const m of sent) call.write(m);
        call.end();
        return { st: await status, got, want: sent.map(sha) };
      }),
    );
    for (const { st, got, want } of results) {
      assert.equal(st.code, grpc.status.OK);
      assert.deepEqual(got, want);
    }
  });

  it('refuses a message over the receive limit with RESOURCE_EXHAUSTED', async () => {
    const call = (client as unknown as { Big(): Duplex }).Big();
    call.on('data', () => {});
    const status = duplexStatus(call);
    call.write(Buffer.alloc(16 * 1024 * 1024 + 1));
    call.end();
    assert.equal((await status).code, grpc.status.RESOURCE_EXHAUSTED);
  });

  it('delivers the same shared body intact to many concurrent streams', async () => {
    const want = sha(shared);
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const call = (client as unknown as { Shared(): Duplex }).Shared();
        const got: Buffer[] = [];
        call.on('data', (b: Buffer) => got.push(b));
        const status = duplexStatus(call);
        call.write(Buffer.from(`s${i}`));
        const st = await status;
        if (st.code !== grpc.status.OK) assert.fail(`stream ${i}: ${st.code} ${st.details}`);
        return { i, st, got };
      }),
    );
    for (const { i, st, got } of results) {
      assert.equal(st.code, grpc.status.OK);
      assert.equal(got.length, 3);
      for (const [k, m] of got.entries()) {
        const head = `s${i}#${2 - k}|`;
        assert.equal(m.subarray(0, head.length).toString(), head);
        assert.equal(sha(m.subarray(head.length, head.length + shared.length)), want);
        assert.equal(m.subarray(head.length + shared.length).toString(), '|end');
      }
    }
  });

  it('sees a client cancel', async () => {
    const before = seen.cancelled;
    const call = (client as unknown as { Hold(): Duplex }).Hold();
    call.on('error', () => {});
    const first = new Promise((r) => call.once('data', r));
    call.write(Buffer.from('hi'));
    await first;
    call.cancel();
    await waitFor(() => seen.cancelled > before, 'the server to see the cancel');
  });

  it('answers a non-gRPC content-type with HTTP 415', async () => {
    const session = http2.connect(`http://${address}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/test.Wire/Echo', 'content-type': 'text/plain' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end('x');
      });
      assert.equal(status, 415);
    } finally {
      session.close();
    }
  });
});

describe('GrpcServer on a Unix socket', () => {
  it('serves calls on a socket path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-grpc-unix-'));
    const { server } = buildServer();
    const address = await server.listen({ path: join(dir, 'grpc.sock') });
    const client = new Client(address, grpc.credentials.createInsecure()) as unknown as AnyClient;
    try {
      assert.equal(address, `unix:${join(dir, 'grpc.sock')}`);
      const r = await unary(client, 'Echo', Buffer.from('u'), { deadline: Date.now() + 10_000 });
      assert.equal(r.res?.toString(), ':u');
    } finally {
      client.close();
      await server.close(500);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GrpcServer shutdown', () => {
  it('sends GOAWAY, lets calls finish, destroys what is left after the grace period', async () => {
    const { server } = buildServer();
    const address = await server.listen({ host: '127.0.0.1', port: 0 });
    const client = new Client(address, grpc.credentials.createInsecure()) as unknown as AnyClient;
    try {
      const call = (client as unknown as { Chat(): Duplex }).Chat();
      call.on('error', () => {});
      call.on('data', () => {});
      const status = duplexStatus(call);
      call.write(Buffer.from('hi'));
      await new Promise((r) => call.once('data', r));
      await server.close(200);
      assert.notEqual((await status).code, grpc.status.OK, 'the open stream was cut after the grace period');
      const r = await unary(client, 'Echo', Buffer.from('x'), { deadline: Date.now() + 2000 });
      assert.ok(r.err, 'no new calls after close');
    } finally {
      client.close();
    }
  });
});

describe('GrpcServer over TLS', () => {
  let ca: TestCa;
  const { server } = buildServer();
  let address: string;
  let current: { certPem: string; keyPem: string };
  let changed: (() => void) | undefined;
  before(async () => {
    ca = await makeCa('grpc-server-test');
    current = serverCert(ca);
    const tls: GrpcServerTls = {
      contextOptions: () => ({ key: current.keyPem, cert: current.certPem, ca: ca.certPem }),
      onChange: (l) => {
        changed = l;
        return () => (changed = undefined);
      },
    };
    address = await server.listen({ host: '127.0.0.1', port: 0 }, tls);
  });
  after(async () => {
    await server.close(1000);
  });

  it('gives the handler the verified client certificate, none without one', async () => {
    const leaf = await issue(ca, 'spiffe://cluster.local/ns/default/sa/client');
    const name = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
    const withCert = new Client(address, grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(leaf.keyPem), Buffer.from(leaf.certPem)), name) as unknown as AnyClient;
    const without = new Client(address, grpc.credentials.createSsl(Buffer.from(ca.certPem)), name) as unknown as AnyClient;
    try {
      const a = await unary(withCert, 'WhoAmI', Buffer.from('x'), { deadline: Date.now() + 10_000 });
      assert.equal(a.err, undefined);
      assert.equal(a.res!.toString(), 'URI:spiffe://cluster.local/ns/default/sa/client');
      const b = await unary(without, 'WhoAmI', Buffer.from('x'), { deadline: Date.now() + 10_000 });
      assert.equal(b.res!.toString(), 'anonymous');
    } finally {
      withCert.close();
      without.close();
    }
  });

  it('serves a rotated certificate to new connections', async () => {
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    const serial = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, ALPNProtocols: ['h2'] }, () => {
          resolve(s.getPeerCertificate().serialNumber);
          s.destroy();
        });
        s.on('error', reject);
      });
    const first = await serial();
    current = serverCert(ca);
    assert.ok(changed, 'the server subscribed to changes');
    changed();
    const second = await serial();
    assert.notEqual(second, first);
    assert.equal(second.toLowerCase(), new X509Certificate(current.certPem).serialNumber.toLowerCase());
  });
});
