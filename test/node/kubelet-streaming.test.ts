import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { constants as zc, createDeflate, createInflate } from 'node:zlib';
import { describe, it } from 'node:test';
import { certificateValidity } from '../../src/lib/certificate-info.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { outcomeStatus, selectChannelProtocol } from '../../src/node/channel-stream.ts';
import { KubeletServer } from '../../src/node/kubelet-server.ts';
import { rotationDelay } from '../../src/node/kubelet-serving-certificate.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { freePort } from '../runtime/netns-test-support.ts';
import { parseHeaderBlock, serializeHeaderBlock, SpdyConnection, type SpdyHeaders } from '../../src/node/spdy-connection.ts';
import { SPDY3_DICTIONARY } from '../../src/node/spdy-dictionary.ts';

/**
 * The pieces of the kubelet's streaming protocols that can be checked without a cluster; the
 * real kubectl through a real API server drives them in test/kube/node-kube.test.ts.
 */

/** A zlib stream with the SPDY dictionary, one sync-flushed block at a time (the client's side). */
function zstream(kind: 'deflate' | 'inflate'): (b: Buffer) => Promise<Buffer> {
  const z = kind === 'deflate' ? createDeflate({ dictionary: SPDY3_DICTIONARY }) : createInflate({ dictionary: SPDY3_DICTIONARY });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  return (b) =>
    new Promise((resolve) => {
      z.write(b);
      z.flush(zc.Z_SYNC_FLUSH, () => resolve(Buffer.concat(out.splice(0))));
    });
}

function control(type: number, flags: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8003, 0);
  h.writeUInt16BE(type, 2);
  h[4] = flags;
  h.writeUIntBE(body.length, 5, 3);
  return Buffer.concat([h, body]);
}

function dataFrame(id: number, flags: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(id, 0);
  h[4] = flags;
  h.writeUIntBE(body.length, 5, 3);
  return Buffer.concat([h, body]);
}

describe('SPDY/3.1 for port-forward', () => {
  it('the header dictionary is the spec\'s 1423 bytes', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(createHash('sha256').update(SPDY3_DICTIONARY).digest('hex'), '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
  });

  it('header blocks: multi-valued headers survive a round trip; a truncated block is refused', () => {
    const h: SpdyHeaders = new Map([['streamtype', ['data']], ['port', ['8080']], ['x', ['a', 'b']]]);
    assert.deepEqual(parseHeaderBlock(serializeHeaderBlock(h)), h);
    assert.throws(() => parseHeaderBlock(serializeHeaderBlock(h).subarray(0, 10)), /truncated/);
  });

  it('streams from a client with one compression context: SYN_STREAM, data, FIN, PING; replies and data back', async () => {
    const written: Buffer[] = [];
    const events: string[] = [];
    const conn = new SpdyConnection(
      { write: (b) => (written.push(b), true), end: () => events.push('end') },
      {
        stream: (id, headers, fin) => {
          events.push(`stream ${id} ${headers.get('streamtype')?.[0]} ${headers.get('port')?.[0]} fin=${fin}`);
          conn.reply(id);
        },
        data: (id, data, fin) => {
          events.push(`data ${id} ${data.toString()} fin=${fin}`);
          if (fin) conn.data(id, Buffer.from('world'), true);
        },
        reset: (id, status) => events.push(`reset ${id} ${status}`),
        closed: (reason) => events.push(`closed ${reason}`),
      },
    );
    const deflate = zstream('deflate');
    const syn = async (id: number, type: string): Promise<Buffer> => {
      const block = await deflate(serializeHeaderBlock(new Map([['streamtype', [type]], ['port', ['80']], ['requestid', ['0']]])));
      const head = Buffer.alloc(10);
      head.writeUInt32BE(id, 0);
      return control(1, 0, Buffer.concat([head, block]));
    };
    // Two header blocks in one compression context (the second one depends on the first's state),
    // frames split at odd places.
    const bytes = Buffer.concat([await syn(1, 'error'), await syn(3, 'data'), dataFrame(3, 0, Buffer.from('hello')), dataFrame(3, 1, Buffer.alloc(0)), control(6, 0, Buffer.from([0, 0, 0, 7])), control(3, 0, Buffer.from([0, 0, 0, 3, 0, 0, 0, 5]))]);
    for (let i = 0; i < bytes.length; i += 7) conn.receive(bytes.subarray(i, i + 7));
    const deadline = Date.now() + 5000;
    while (events.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await conn.flushed();
    assert.deepEqual(events, ['stream 1 error 80 fin=false', 'stream 3 data 80 fin=false', 'data 3 hello fin=false', 'data 3  fin=true', 'reset 3 5']);
    // What went back: two SYN_REPLYs (decompressed in one context), "world" with FIN, the PING echoed.
    const out = Buffer.concat(written);
    const inflate = zstream('inflate');
    const frames: string[] = [];
    for (let at = 0; at < out.length; ) {
      const f = out.subarray(at, at + 8 + out.readUIntBE(at + 5, 3));
      at += f.length;
      if (f[0]! & 0x80) {
        const type = f.readUInt16BE(2);
        if (type === 2) frames.push(`reply ${f.readUInt32BE(8)} headers=${parseHeaderBlock(await inflate(f.subarray(12))).size}`);
        else frames.push(`control ${type} ${f.subarray(8).toString('hex')}`);
      } else frames.push(`data ${f.readUInt32BE(0)} ${f.subarray(8).toString()} flags=${f[4]}`);
    }
    assert.deepEqual(frames, ['reply 1 headers=0', 'reply 3 headers=0', 'data 3 world flags=1', 'control 6 00000007']);
    conn.close('done');
    assert.ok(events.includes('closed done'));
  });
});

describe('WebSocket channel protocols for exec and attach', () => {
  it('the newest protocol both sides know is chosen; unknown ones are refused', () => {
    assert.equal(selectChannelProtocol(['v4.channel.k8s.io', 'v5.channel.k8s.io']), 'v5.channel.k8s.io');
    assert.equal(selectChannelProtocol(['channel.k8s.io']), 'channel.k8s.io');
    assert.equal(selectChannelProtocol(['base64.channel.k8s.io']), 'base64.channel.k8s.io');
    assert.equal(selectChannelProtocol(['v6.channel.k8s.io', 'SPDY/3.1+portforward.k8s.io']), undefined);
  });

  it('the error channel\'s Status carries the exit code as kubectl reads it', () => {
    assert.deepEqual(outcomeStatus({ exitCode: 0 }), { metadata: {}, status: 'Success' });
    const s = outcomeStatus({ exitCode: 3 }) as { reason: string; details: { causes: { reason: string; message: string }[] } };
    assert.equal(s.reason, 'NonZeroExitCode');
    assert.deepEqual(s.details.causes, [{ reason: 'ExitCode', message: '3' }]);
    assert.equal((outcomeStatus({ error: 'boom' }) as { status: string; message: string }).message, 'boom');
  });
});

describe('kubelet serving certificate rotation', () => {
  const certPair = async (dir: string, name: string, days: number): Promise<{ keyPem: string; certPem: string }> => {
    await runHostCommand('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days), '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)]);
    return { keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'), certPem: readFileSync(join(dir, `${name}.crt`), 'utf8') };
  };

  it('the next certificate is asked for at a jittered 70-90 % of the current one\'s validity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-kubelet-cert-'));
    try {
      const { certPem } = await certPair(dir, 'a', 10);
      const { notBefore, notAfter } = certificateValidity(new X509Certificate(certPem));
      const span = notAfter - notBefore;
      assert.equal(rotationDelay(certPem, notBefore, 0), span * 0.7);
      assert.equal(rotationDelay(certPem, notBefore, 0.5), span * 0.8);
      assert.equal(rotationDelay(certPem, notAfter, 0.5), 0, 'overdue: now');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a rotated certificate is served to new connections without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-kubelet-cert-'));
    // The server is started and handshaken with only; no request reaches the API or a pod.
    const unused = new Proxy({}, { get: () => () => assert.fail('not used by a TLS handshake') });
    let server: KubeletServer | undefined;
    try {
      const a = await certPair(dir, 'first', 1);
      const b = await certPair(dir, 'second', 1);
      const port = await freePort();
      server = new KubeletServer({ api: unused as never, nodeName: 'n', address: '127.0.0.1', port, ...a, clientCa: a.certPem, container: () => 'none', streaming: unused as never, log: silentLogger() });
      await server.start();
      const served = (): Promise<string> =>
        new Promise((resolve, reject) => {
          const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
            resolve(String(s.getPeerCertificate().subject?.CN));
            s.destroy();
          }).on('error', reject);
        });
      assert.equal(await served(), 'first');
      server.setCertificate(b.keyPem, b.certPem);
      assert.equal(await served(), 'second');
    } finally {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
