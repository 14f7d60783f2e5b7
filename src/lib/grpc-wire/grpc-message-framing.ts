/**
 * gRPC's length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length,
 * then the message. `frameHeader` lets a sender write the prefix and a shared body as separate
 * chunks (no copy of the body); `GrpcMessageReader` reassembles messages from DATA chunks.
 */
export const FRAME_HEADER_BYTES = 5;

/** The 5-byte prefix of an uncompressed message of `length` bytes. */
export function frameHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h[0] = 0;
  h.writeUInt32BE(length, 1);
  return h;
}

/** One framed message in a single buffer (for small messages, where a copy is cheaper than two writes). */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, FRAME_HEADER_BYTES);
  return out;
}

/** Why a byte stream is not a valid sequence of gRPC messages (the reader stops at the first). */
export interface FramingError {
  /** RESOURCE_EXHAUSTED for an oversized message, UNIMPLEMENTED / INTERNAL for compression. */
  code: number;
  message: string;
}

export interface GrpcMessageReaderOptions {
  /** Largest accepted message (default 4 MiB, gRPC's default receive limit). */
  maxMessageBytes?: number;
  /**
   * Assemble messages spread over chunks in this reused memory instead of a new buffer each:
   * such a message is then valid only until the next push() on any reader sharing it.
   */
  assembly?: AssemblyBuffer;
}

/**
 * Memory that message readers assemble messages in, reused from one message to the next. An
 * Envoy repeats its whole EDS subscription (a thousand names, 40 KB, over three HTTP/2 DATA
 * frames) in every ACK: a new buffer per ACK is 400 MB of short-lived external memory per
 * endpoint push to 10,000 proxies, and V8 answers external memory growth with full collections
 * of the whole heap. Readers that share one (a server's streams) take turns: each message is
 * consumed before the next chunk is read. Messages larger than `maxBytes` get their own buffer.
 */
export class AssemblyBuffer {
  private buf = Buffer.alloc(0);
  readonly maxBytes: number;

  constructor(maxBytes = 1024 * 1024) {
    this.maxBytes = maxBytes;
  }

  /** `parts` joined, in memory the next join overwrites (a new buffer when larger than maxBytes). */
  join(parts: readonly Buffer[]): Buffer {
    let len = 0;
    for (const p of parts) len += p.length;
    if (len > this.maxBytes) return Buffer.concat(parts, len);
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(len, 2 * this.buf.length, 64 * 1024)));
    let off = 0;
    for (const p of parts) {
      this.buf.set(p, off);
      off += p.length;
    }
    return this.buf.subarray(0, len);
  }
}

/**
 * Incremental de-framer. `push(chunk)` returns the messages completed by that chunk, or a
 * FramingError (oversized, or compressed: no grpc-encoding is negotiated by our peers, so a set
 * compressed flag is a protocol error). Message buffers are views into the received chunks when
 * a message lies within one chunk, copies otherwise (in the `assembly` buffer when given: at
 * most one message per push() is assembled, since only a chunk's first message can have begun
 * in an earlier chunk).
 */
export class GrpcMessageReader {
  private readonly max: number;
  private readonly assembly: AssemblyBuffer | undefined;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private failed: FramingError | undefined;
  /** Bytes of the current message still to come. */
  private partRemaining = 0;
  /** push(): the parts received so far of a message spread over chunks. */
  private pending: Buffer[] = [];

  constructor(options: GrpcMessageReaderOptions = {}) {
    this.max = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.assembly = options.assembly;
  }

  /** True when no partial message is buffered (a clean end of stream is possible). */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.partRemaining === 0;
  }

  push(chunk: Buffer): Buffer[] | FramingError {
    const parts = this.pushParts(chunk);
    if (isFramingError(parts)) return parts;
    const out: Buffer[] = [];
    for (const p of parts) {
      // A message inside one chunk is a view of it; one spread over chunks is joined once.
      if (p.last && this.pending.length === 0) out.push(p.data);
      else this.pending.push(p.data);
      if (p.last && this.pending.length > 0) {
        out.push(this.assembly ? this.assembly.join(this.pending) : Buffer.concat(this.pending));
        this.pending = [];
      }
    }
    return out;
  }

  /**
   * The same stream cut into message parts instead of whole messages: views into the received
   * chunks, never copied, `last` on a message's final part (an empty message is one empty part).
   * For consumers that read a little of large messages; push() assembles messages from them.
   * Do not mix the two on one reader.
   */
  pushParts(chunk: Buffer): MessagePart[] | FramingError {
    if (this.failed) return this.failed;
    const out: MessagePart[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.partRemaining > 0) {
        const take = Math.min(this.partRemaining, chunk.length - off);
        this.partRemaining -= take;
        out.push({ data: chunk.subarray(off, off + take), last: this.partRemaining === 0 });
        off += take;
        continue;
      }
      const h = this.takeHeader(chunk, off);
      if (!('off' in h)) return h;
      off = h.off;
      if (h.len === undefined) break;
      const len = h.len;
      if (len === 0) out.push({ data: chunk.subarray(off, off), last: true });
      this.partRemaining = len;
    }
    return out;
  }

  /**
   * Copy the next bytes of a message prefix that may span chunks; the message length once all
   * five are in (undefined before), or the framing error.
   */
  private takeHeader(chunk: Buffer, off: number): { off: number; len: number | undefined } | FramingError {
    const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - off);
    chunk.copy(this.header, this.headerFill, off, off + take);
    this.headerFill += take;
    if (this.headerFill < FRAME_HEADER_BYTES) return { off: off + take, len: undefined };
    this.headerFill = 0;
    const len = this.header.readUInt32BE(1);
    const err = this.check(this.header[0]!, len);
    if (err) return (this.failed = err);
    return { off: off + take, len };
  }

  private check(flag: number, len: number): FramingError | undefined {
    if (flag === 1) return { code: 12, message: 'received a compressed message, but no grpc-encoding was negotiated (compression is not supported)' };
    if (flag !== 0) return { code: 13, message: `invalid gRPC frame flag ${flag}` };
    if (len > this.max) return { code: 8, message: `received message larger than max (${len} vs. ${this.max})` };
    return undefined;
  }
}

/** A piece of a message as it arrived (GrpcMessageReader.pushParts). */
export interface MessagePart {
  data: Buffer;
  /** The message's final part. */
  last: boolean;
}

/** Type guard for the reader's error value. */
export function isFramingError<T>(v: T[] | FramingError): v is FramingError {
  return !Array.isArray(v);
}
