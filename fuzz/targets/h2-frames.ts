/**
 * HTTP/2 frames from fuzz bytes, structured enough to get past nghttp2's framing into the proxy's
 * own code: the connection preface and SETTINGS, then a sequence of HEADERS (header lists as
 * HPACK literals without Huffman, pseudo-headers included or not), DATA, CONTINUATION,
 * RST_STREAM, WINDOW_UPDATE, PING, SETTINGS, PRIORITY, GOAWAY and raw frames, each chosen and
 * filled by the input. Ends with a PING whose ACK tells that the peer read everything before it.
 */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FINAL_PING = Buffer.from('fuzzdone');

class Reader {
  private i = 0;
  private readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  get left(): number {
    return this.b.length - this.i;
  }
  byte(): number {
    return this.i < this.b.length ? this.b[this.i++] : 0;
  }
  bytes(n: number): Buffer {
    const out = this.b.subarray(this.i, Math.min(this.b.length, this.i + n));
    this.i += out.length;
    return out;
  }
  /** A string of up to `max` bytes, ended by 0x00 or the length byte. */
  text(max: number): Buffer {
    return this.bytes(this.byte() % (max + 1));
  }
}

export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A literal header field without indexing, new name (RFC 7541 6.2.2), no Huffman. */
function literal(name: Buffer, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0]), hpackInt(name.length, 7, 0), name, hpackInt(value.length, 7, 0), value]);
}

const PSEUDO: [string, string[]][] = [
  [':method', ['GET', 'POST', 'CONNECT', 'HEAD', 'OPTIONS', 'G T', '']],
  [':scheme', ['http', 'https', 'ftp', '']],
  [':path', ['/', '/a?b=c', '/%2e%2e/x', '//a/../b', '*', '', 'x', '/h2/p']],
  [':authority', ['a', 'a:80', 'a@b', '[::1]:1', '', 'a b']],
];

/** The client's bytes for one fuzz input (`h2c` prior knowledge, or inside TLS for HBONE). */
export function clientFrames(data: Buffer, opts: { connect?: boolean } = {}): Buffer {
  const r = new Reader(data);
  const out: Buffer[] = [PREFACE, frame(4, 0, 0, Buffer.alloc(0))];
  let stream = 1;
  let ops = 0;
  while (r.left > 0 && ops++ < 24) {
    const op = r.byte() % 12;
    if (op <= 3) {
      // HEADERS on a new stream (sometimes the same one again)
      const flags = r.byte();
      const block: Buffer[] = [];
      const mask = r.byte();
      if (opts.connect) {
        if (mask & 1) block.push(literal(Buffer.from(':method'), Buffer.from(mask & 2 ? 'CONNECT' : 'GET')));
        if (mask & 4) block.push(literal(Buffer.from(':authority'), r.text(40)));
      } else {
        PSEUDO.forEach(([name, values], i) => {
          if (mask & (1 << i)) block.push(literal(Buffer.from(name), mask & (16 << i) ? r.text(48) : Buffer.from(values[r.byte() % values.length])));
        });
      }
      const n = r.byte() % 8;
      for (let i = 0; i < n; i++) block.push(literal(r.text(24), r.text(64)));
      const payload = Buffer.concat(block);
      const endHeaders = (flags & 0x40) === 0; // mostly complete; otherwise a CONTINUATION follows
      if (!endHeaders && payload.length > 1) {
        const cut = 1 + (flags % (payload.length - 1));
        out.push(frame(1, flags & 0x01, stream, payload.subarray(0, cut)), frame(9, 0x04, stream, payload.subarray(cut)));
      } else out.push(frame(1, (flags & 0x01) | 0x04, stream, payload));
      if ((flags & 0x80) === 0) stream += 2;
    } else if (op <= 6) {
      out.push(frame(0, r.byte() & 0x01, Math.max(1, stream - 2), r.text(200)));
    } else if (op === 7) {
      out.push(frame(3, 0, Math.max(1, stream - 2), Buffer.from([0, 0, 0, r.byte() % 14])));
    } else if (op === 8) {
      const inc = Buffer.alloc(4);
      inc.writeUInt32BE(((r.byte() << 16) | (r.byte() << 8) | r.byte()) & 0x7fffffff);
      out.push(frame(8, 0, r.byte() & 1 ? 0 : Math.max(1, stream - 2), inc));
    } else if (op === 9) {
      const s = Buffer.alloc(6);
      s.writeUInt16BE(1 + (r.byte() % 6));
      s.writeUInt32BE(((r.byte() << 24) | (r.byte() << 16) | (r.byte() << 8) | r.byte()) >>> 0, 2);
      out.push(frame(4, 0, 0, s));
    } else if (op === 10) {
      out.push(frame(2, 0, Math.max(1, stream - 2), Buffer.from([r.byte() & 0x7f, 0, 0, 1, r.byte()])));
    } else {
      // a raw frame of any type, flags and stream
      out.push(frame(r.byte() % 12, r.byte(), r.byte(), r.text(32)));
    }
  }
  out.push(frame(6, 0, 0, FINAL_PING));
  return Buffer.concat(out);
}
