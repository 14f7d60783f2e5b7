import { constants as zc, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.ts';

/** SPDY/3.1 frame types and flags (what Kubernetes' streaming clients, moby/spdystream, send). */
const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const HEADERS = 8;
const WINDOW_UPDATE = 9;
export const FLAG_FIN = 0x01;
/** RST_STREAM status codes. */
export const RST_PROTOCOL_ERROR = 1;
export const RST_REFUSED_STREAM = 3;
export const RST_CANCEL = 5;

/** Header names are lower case; a header may have several values. */
export type SpdyHeaders = Map<string, string[]>;

/** What the peer does on the connection. */
export interface SpdyHandlers {
  /** A new stream opened by the peer; reply with `reply()` or refuse with `reset()`. */
  stream(id: number, headers: SpdyHeaders, fin: boolean): void;
  data(id: number, data: Buffer, fin: boolean): void;
  reset(id: number, status: number): void;
  /** The connection ended (peer went away, transport closed, protocol error). */
  closed(reason: string): void;
}

/** Where frames go: a socket after an HTTP upgrade, or a WebSocket tunnel. */
export interface SpdyTransport {
  write(b: Buffer): boolean;
  end(): void;
}

/**
 * One zlib stream per direction with the SPDY dictionary; every header block ends with a sync
 * flush, so each block can be (de)compressed on its own while the stream's state carries on.
 * Operations are queued: the zlib streams are asynchronous.
 */
class HeaderCodec {
  private readonly inflate: Inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
  private readonly deflate: Deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  private inflated: Buffer[] = [];
  private deflated: Buffer[] = [];
  private failure: Error | undefined;

  constructor() {
    this.inflate.on('data', (c: Buffer) => this.inflated.push(c)).on('error', (e: Error) => (this.failure = e));
    this.deflate.on('data', (c: Buffer) => this.deflated.push(c)).on('error', (e: Error) => (this.failure = e));
  }

  private run(z: Inflate | Deflate, out: () => Buffer[], input: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      z.write(input);
      z.flush(zc.Z_SYNC_FLUSH, () => {
        if (this.failure) return reject(this.failure);
        const chunks = out();
        resolve(Buffer.concat(chunks));
        chunks.length = 0;
      });
    });
  }

  decode(block: Buffer): Promise<SpdyHeaders> {
    return this.run(this.inflate, () => this.inflated, block).then(parseHeaderBlock);
  }

  encode(headers: SpdyHeaders): Promise<Buffer> {
    return this.run(this.deflate, () => this.deflated, serializeHeaderBlock(headers));
  }

  close(): void {
    this.inflate.destroy();
    this.deflate.destroy();
  }
}

export function serializeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  parts.push(u32(headers.size));
  for (const [name, values] of headers) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\u0000'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function parseHeaderBlock(b: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = new Map();
  let at = 0;
  const need = (n: number): void => {
    if (at + n > b.length) throw new Error('truncated SPDY header block');
  };
  need(4);
  const count = b.readUInt32BE(at);
  at += 4;
  for (let i = 0; i < count; i++) {
    need(4);
    const nl = b.readUInt32BE(at);
    at += 4;
    need(nl);
    const name = b.subarray(at, at + nl).toString('utf8').toLowerCase();
    at += nl;
    need(4);
    const vl = b.readUInt32BE(at);
    at += 4;
    need(vl);
    const values = b.subarray(at, at + vl).toString('utf8').split('\u0000');
    at += vl;
    headers.set(name, [...(headers.get(name) ?? []), ...values]);
  }
  return headers;
}

/**
 * The server side of a SPDY/3.1 connection as Kubernetes' streaming protocols use it (streams
 * opened by the client, answered with SYN_REPLY, data both ways, FIN half-closes): frames parsed
 * from `receive()`d bytes, frames written to the transport in the order they were asked for.
 * No flow control is done (moby/spdystream, the client, does none either); WINDOW_UPDATE and
 * SETTINGS are read and ignored, PINGs answered.
 */
export class SpdyConnection {
  private readonly codec = new HeaderCodec();
  private buffer: Buffer = Buffer.alloc(0);
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  /** No more frames are taken (closing or closed). */
  private done = false;
  private ended = false;
  private readonly transport: SpdyTransport;
  private readonly handlers: SpdyHandlers;

  constructor(transport: SpdyTransport, handlers: SpdyHandlers) {
    this.transport = transport;
    this.handlers = handlers;
  }

  get isClosed(): boolean {
    return this.done;
  }

  /** Bytes from the peer. */
  receive(chunk: Buffer): void {
    if (this.done) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 8) {
      const length = this.buffer.readUInt32BE(4) & 0xffffff;
      if (this.buffer.length < 8 + length) break;
      const frame = this.buffer.subarray(0, 8 + length);
      this.buffer = this.buffer.subarray(8 + length);
      this.inbound = this.inbound.then(() => this.handle(frame)).catch((err: Error) => this.close(`SPDY protocol error: ${err.message}`));
    }
  }

  private async handle(f: Buffer): Promise<void> {
    if (this.done) return;
    const flags = f[4]!;
    const body = f.subarray(8);
    if ((f[0]! & 0x80) === 0) {
      this.handlers.data(f.readUInt32BE(0) & 0x7fffffff, Buffer.from(body), (flags & FLAG_FIN) !== 0);
      return;
    }
    const version = f.readUInt16BE(0) & 0x7fff;
    if (version !== 3) throw new Error(`unsupported SPDY version ${version}`);
    const type = f.readUInt16BE(2);
    switch (type) {
      case SYN_STREAM: {
        const id = body.readUInt32BE(0) & 0x7fffffff;
        const headers = await this.codec.decode(body.subarray(10));
        this.handlers.stream(id, headers, (flags & FLAG_FIN) !== 0);
        return;
      }
      case SYN_REPLY:
      case HEADERS:
        // Keep the decompressor in step; clients send none of these to a server in practice.
        await this.codec.decode(body.subarray(4));
        return;
      case RST_STREAM:
        this.handlers.reset(body.readUInt32BE(0) & 0x7fffffff, body.readUInt32BE(4));
        return;
      case PING:
        this.writeControl(PING, 0, Buffer.from(body));
        return;
      case GOAWAY:
        this.close('the client sent GOAWAY');
        return;
      case SETTINGS:
      case WINDOW_UPDATE:
        return;
      default:
        // Unknown control frames are ignored (SPDY/3 2.2.1).
        return;
    }
  }

  private enqueue(make: () => Promise<Buffer> | Buffer, last = false): void {
    if (this.done && !last) return;
    this.outbound = this.outbound
      .then(async () => {
        if (this.ended) return;
        this.transport.write(await make());
      })
      .catch((err: Error) => this.close(`SPDY write failed: ${err.message}`));
  }

  private writeControl(type: number, flags: number, body: Buffer, last = false): void {
    this.enqueue(() => controlFrame(type, flags, body), last);
  }

  /** Accept a stream the peer opened. */
  reply(id: number, headers: SpdyHeaders = new Map(), fin = false): void {
    this.enqueue(async () => {
      const block = await this.codec.encode(headers);
      const body = Buffer.alloc(4);
      body.writeUInt32BE(id & 0x7fffffff, 0);
      return controlFrame(SYN_REPLY, fin ? FLAG_FIN : 0, Buffer.concat([body, block]));
    });
  }

  /** Data on a stream (split into frames of at most 64 KiB); `fin` half-closes it. */
  data(id: number, data: Buffer, fin = false): void {
    const max = 0xffff;
    let at = 0;
    do {
      const part = data.subarray(at, at + max);
      at += part.length;
      const h = Buffer.alloc(8);
      h.writeUInt32BE(id & 0x7fffffff, 0);
      h[4] = fin && at >= data.length ? FLAG_FIN : 0;
      h.writeUIntBE(part.length, 5, 3);
      const frame = Buffer.concat([h, part]);
      this.enqueue(() => frame);
    } while (at < data.length);
  }

  reset(id: number, status: number): void {
    const body = Buffer.alloc(8);
    body.writeUInt32BE(id & 0x7fffffff, 0);
    body.writeUInt32BE(status, 4);
    this.writeControl(RST_STREAM, 0, body);
  }

  /** Resolves once everything asked for so far went to the transport. */
  flushed(): Promise<void> {
    return this.outbound;
  }

  /** End the connection (GOAWAY when it is still open). */
  close(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.writeControl(GOAWAY, 0, Buffer.alloc(8), true);
    void this.outbound.finally(() => {
      this.ended = true;
      this.transport.end();
      this.codec.close();
    });
    this.handlers.closed(reason);
  }
}

function controlFrame(type: number, flags: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | 3, 0);
  h.writeUInt16BE(type, 2);
  h[4] = flags & 0xff;
  h.writeUIntBE(body.length, 5, 3);
  return Buffer.concat([h, body]);
}
