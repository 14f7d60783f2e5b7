import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssemblyBuffer, frameHeader, frameMessage, GrpcMessageReader, isFramingError } from './grpc-message-framing.ts';
import { decodeGrpcMessage, encodeGrpcMessage, GrpcStatus, grpcStatusFromHttp, grpcStatusName } from './grpc-status.ts';
import { formatGrpcTimeout, parseGrpcTimeout } from './grpc-timeout.ts';

function messages(reader: GrpcMessageReader, chunks: Buffer[]): string[] {
  const out: string[] = [];
  for (const c of chunks) {
    const r = reader.push(c);
    assert.ok(!isFramingError(r), 'no framing error');
    for (const m of r) out.push(m.toString());
  }
  return out;
}

/** The one message of `wire`, pushed in two chunks (so it is assembled). */
function messages2(reader: GrpcMessageReader, wire: Buffer): Buffer {
  assert.deepEqual(reader.push(wire.subarray(0, 7)), []);
  const r = reader.push(wire.subarray(7));
  assert.ok(!isFramingError(r) && r.length === 1);
  return r[0]!;
}

describe('GrpcMessageReader', () => {
  it('reads several messages from one chunk, including an empty one', () => {
    const wire = Buffer.concat([frameMessage(Buffer.from('hello')), frameMessage(Buffer.alloc(0)), frameMessage(Buffer.from('world'))]);
    assert.deepEqual(messages(new GrpcMessageReader(), [wire]), ['hello', '', 'world']);
  });

  it('reassembles messages split at every byte boundary', () => {
    const payload = [Buffer.from('a'.repeat(300)), Buffer.from('bc'), Buffer.alloc(0)];
    const wire = Buffer.concat(payload.map((p) => frameMessage(p)));
    for (let cut = 1; cut < wire.length; cut++) {
      const r = new GrpcMessageReader();
      assert.deepEqual(messages(r, [wire.subarray(0, cut), wire.subarray(cut)]), payload.map((p) => p.toString()), `cut at ${cut}`);
      assert.ok(r.atBoundary);
    }
    const r = new GrpcMessageReader();
    const single = [...wire].map((b) => Buffer.from([b]));
    assert.deepEqual(messages(r, single), payload.map((p) => p.toString()));
  });

  it('assembles split messages in a shared AssemblyBuffer, reused message after message, at every split', () => {
    const payload = [Buffer.from('a'.repeat(300)), Buffer.from('bc'), Buffer.from('d'.repeat(200)), Buffer.alloc(0)];
    const wire = Buffer.concat(payload.map((p) => frameMessage(p)));
    for (let cut = 1; cut < wire.length; cut++) {
      // Two readers sharing one buffer, taking turns as a server's streams do.
      const shared = new AssemblyBuffer(1024);
      const a = new GrpcMessageReader({ assembly: shared });
      const b = new GrpcMessageReader({ assembly: shared });
      const seen = new Map<GrpcMessageReader, string[]>([[a, []], [b, []]]);
      for (const chunk of [wire.subarray(0, cut), wire.subarray(cut)]) {
        for (const reader of [a, b]) {
          const r = reader.push(chunk);
          assert.ok(!isFramingError(r));
          // Consumed while valid (the next push may overwrite an assembled message).
          for (const m of r) seen.get(reader)!.push(m.toString());
        }
      }
      const want = payload.map((p) => p.toString());
      assert.deepEqual(seen.get(a), want, `cut at ${cut}`);
      assert.deepEqual(seen.get(b), want, `cut at ${cut}`);
    }
    // Consecutive assembled messages share the memory; one larger than the buffer's bound gets its own.
    const shared = new AssemblyBuffer(64);
    const r = new GrpcMessageReader({ assembly: shared });
    const first = messages2(r, frameMessage(Buffer.from('x'.repeat(40))));
    const second = messages2(r, frameMessage(Buffer.from('y'.repeat(40))));
    assert.ok(second.buffer === first.buffer && second.byteOffset === first.byteOffset, 'the same memory');
    assert.equal(second.toString(), 'y'.repeat(40));
    assert.equal(first.toString(), 'y'.repeat(40), 'overwritten by the next message: valid only until the next push');
    const large = messages2(r, frameMessage(Buffer.from('z'.repeat(100))));
    assert.equal(large.toString(), 'z'.repeat(100));
    assert.equal(first.toString(), 'y'.repeat(40), 'a large message leaves the shared memory alone');
  });

  it('cuts the same stream into uncopied message parts at every split (pushParts)', () => {
    const payload = [Buffer.from('a'.repeat(300)), Buffer.alloc(0), Buffer.from('bc')];
    const wire = Buffer.concat(payload.map((p) => frameMessage(p)));
    const split = (chunks: Buffer[]): { msgs: string[]; reader: GrpcMessageReader } => {
      const reader = new GrpcMessageReader();
      const msgs: string[] = [];
      let cur: Buffer[] = [];
      for (const c of chunks) {
        const parts = reader.pushParts(c);
        assert.ok(!isFramingError(parts));
        for (const p of parts) {
          assert.equal(p.data.buffer, c.buffer, 'a view into the chunk, not a copy');
          cur.push(p.data);
          if (p.last) {
            msgs.push(Buffer.concat(cur).toString());
            cur = [];
          }
        }
      }
      return { msgs, reader };
    };
    const want = payload.map((p) => p.toString());
    for (let cut = 1; cut < wire.length; cut++) {
      const { msgs, reader } = split([wire.subarray(0, cut), wire.subarray(cut)]);
      assert.deepEqual(msgs, want, `cut at ${cut}`);
      assert.ok(reader.atBoundary);
    }
    assert.deepEqual(split([...wire].map((b) => Buffer.from([b]))).msgs, want);
    const r = new GrpcMessageReader({ maxMessageBytes: 4 });
    const res = r.pushParts(frameMessage(Buffer.from('12345')));
    assert.ok(isFramingError(res) && res.code === GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it('frameHeader + body written separately equals frameMessage', () => {
    const body = Buffer.from('xyz');
    assert.deepEqual(Buffer.concat([frameHeader(body.length), body]), frameMessage(body));
  });

  it('reports an oversized message as RESOURCE_EXHAUSTED and stays failed', () => {
    const r = new GrpcMessageReader({ maxMessageBytes: 4 });
    const res = r.push(frameMessage(Buffer.from('12345')));
    assert.ok(isFramingError(res));
    assert.equal(res.code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.match(res.message, /larger than max \(5 vs\. 4\)/);
    assert.ok(isFramingError(r.push(frameMessage(Buffer.from('1')))));
  });

  it('rejects a compressed message (no encoding negotiated) with UNIMPLEMENTED', () => {
    const wire = frameMessage(Buffer.from('z'));
    wire[0] = 1;
    const res = new GrpcMessageReader().push(wire);
    assert.ok(isFramingError(res));
    assert.equal(res.code, GrpcStatus.UNIMPLEMENTED);
  });
});

describe('grpc-status', () => {
  it('names codes and maps HTTP statuses as the gRPC spec does', () => {
    assert.equal(grpcStatusName(14), 'UNAVAILABLE');
    assert.equal(grpcStatusName(99), '99');
    assert.equal(grpcStatusFromHttp(404), GrpcStatus.UNIMPLEMENTED);
    assert.equal(grpcStatusFromHttp(503), GrpcStatus.UNAVAILABLE);
    assert.equal(grpcStatusFromHttp(500), GrpcStatus.UNKNOWN);
  });

  it('percent-encodes grpc-message and decodes it back', () => {
    assert.equal(encodeGrpcMessage('plain text'), 'plain text');
    const s = 'bad: 100% \n ünïcode';
    const enc = encodeGrpcMessage(s);
    assert.match(enc, /^[\x20-\x7e]*$/);
    assert.ok(enc.includes('%25') && enc.includes('%0A'));
    assert.equal(decodeGrpcMessage(enc), s);
    assert.equal(decodeGrpcMessage('50%zz'), '50%zz');
  });
});

describe('grpc-timeout', () => {
  it('parses every unit and rejects malformed values', () => {
    assert.equal(parseGrpcTimeout('1S'), 1000);
    assert.equal(parseGrpcTimeout('250m'), 250);
    assert.equal(parseGrpcTimeout('2M'), 120_000);
    assert.equal(parseGrpcTimeout('1H'), 3_600_000);
    assert.equal(parseGrpcTimeout('5000u'), 5);
    assert.equal(parseGrpcTimeout('123456789S'), undefined);
    assert.equal(parseGrpcTimeout('10'), undefined);
    assert.equal(parseGrpcTimeout('-1S'), undefined);
  });

  it('formats within the 8-digit limit, rounding up', () => {
    assert.equal(formatGrpcTimeout(1500), '1500m');
    assert.equal(formatGrpcTimeout(0.2), '1m');
    assert.equal(formatGrpcTimeout(1e9), '1000000S');
    assert.equal(parseGrpcTimeout(formatGrpcTimeout(86_400_000 * 365)), 86_400_000 * 365);
  });
});
