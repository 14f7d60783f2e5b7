import type * as http2 from 'node:http2';

/** Where request body bytes go: the upstream attempt, a mirror (write returns false: slow down). */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): void;
  /** The request ended without its body's end (the client reset it). */
  abort?(): void;
}

/** Bytes kept for replaying the body to a retry (as on HTTP/1.1); beyond, retries are off. */
const RETAIN_LIMIT = 64 * 1024;
/** Body read ahead while no sink takes it (filters deciding, upstream connecting). */
const READ_AHEAD = 256 * 1024;

/**
 * The request body of an HTTP/2 stream, read once and handed to every consumer that needs it:
 * filters that look at it (ext_authz with_request_body), the attempt that forwards it upstream
 * (a retry gets the first 64 KiB again), request mirrors (a copy as it arrives). The stream is
 * read as soon as the request starts; it pauses while nobody takes the bytes (more than 256 KiB
 * waiting) or a sink pushes back, so flow control still reaches the client.
 */
export class Http2RequestBody {
  private readonly stream: http2.ServerHttp2Stream;
  /** Every chunk so far while `replayable`; else only those no primary sink has taken yet. */
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private waiting = 0;
  replayable = true;
  ended = false;
  private primary: BodySink | undefined;
  private readonly mirrors: BodySink[] = [];
  private watchers: (() => void)[] = [];
  /** Bytes read ahead while no sink takes them (a filter buffering the body raises it). */
  private readAhead = READ_AHEAD;

  constructor(stream: http2.ServerHttp2Stream) {
    this.stream = stream;
    if (stream.endAfterHeaders) {
      this.ended = true;
      return;
    }
    stream.on('data', (c: Buffer) => this.onData(c));
    stream.once('end', () => this.onEnd());
    stream.once('close', () => {
      if (this.ended) return;
      for (const m of this.mirrors) m.abort?.();
      this.notify();
    });
  }

  /** The request ended with no body byte (so far as is known when asked). */
  get empty(): boolean {
    return this.ended && this.bytes === 0;
  }

  private onData(c: Buffer): void {
    this.bytes += c.length;
    if (this.replayable && this.bytes > RETAIN_LIMIT) {
      this.replayable = false;
      // keep only what the current primary has not seen (nothing: it saw all) for a late primary
      if (this.primary) this.chunks.length = 0;
    }
    if (this.replayable || !this.primary) {
      this.chunks.push(c);
      if (!this.primary) this.waiting += c.length;
    }
    let ok = true;
    if (this.primary && !this.primary.write(c)) ok = false;
    for (const m of this.mirrors) m.write(c);
    if (!ok || (!this.primary && this.waiting > this.readAhead)) this.stream.pause();
    this.notify();
  }

  private onEnd(): void {
    this.ended = true;
    this.primary?.end();
    for (const m of this.mirrors) m.end();
    this.notify();
  }

  private notify(): void {
    const w = this.watchers;
    this.watchers = [];
    for (const f of w) f();
  }

  /**
   * The body so far, once complete or at least `maxBytes` long (FilterContext.bufferBody; filters
   * run before any attempt, so every byte read is still here).
   */
  buffered(maxBytes: number): Promise<{ data: Buffer; complete: boolean }> {
    if (maxBytes > this.readAhead) {
      this.readAhead = maxBytes;
      if (!this.ended && this.stream.isPaused()) this.stream.resume();
    }
    return new Promise((resolve) => {
      const check = (): void => {
        const data = Buffer.concat(this.chunks);
        if (this.ended || data.length >= maxBytes || this.stream.destroyed) resolve({ data, complete: this.ended });
        else this.watchers.push(check);
      };
      check();
    });
  }

  /**
   * Send the body to `sink` (a new upstream attempt): what was read so far, then the rest as it
   * comes. False when the start of the body is no longer kept (a retry cannot replay it).
   */
  attach(sink: BodySink): boolean {
    if (!this.replayable && this.primary) return false;
    this.primary = sink;
    this.waiting = 0;
    for (const c of this.chunks) sink.write(c);
    if (!this.replayable) this.chunks.length = 0;
    if (this.ended) sink.end();
    else if (this.stream.isPaused()) this.stream.resume();
    return true;
  }

  /** The current attempt ended without the body: nobody takes it until the next attach. */
  detach(sink: BodySink): void {
    if (this.primary === sink) this.primary = undefined;
  }

  /**
   * A mirror gets what was read so far and everything after. False when the start of the body
   * is no longer kept (a mirror added after a large body went upstream): no mirror then.
   */
  addMirror(sink: BodySink): boolean {
    if (!this.replayable && this.primary) return false;
    for (const c of this.chunks) sink.write(c);
    this.mirrors.push(sink);
    if (this.ended) sink.end();
    return true;
  }

  /** The upstream took the bytes it had pushed back on. */
  resume(): void {
    if (!this.ended && this.stream.isPaused()) this.stream.resume();
  }
}
