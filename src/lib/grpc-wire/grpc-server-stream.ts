import { EventEmitter } from 'node:events';
import type { ServerHttp2Stream } from 'node:http2';
import type { GrpcMetadata } from './grpc-metadata.ts';
import { GrpcMessageReader, frameHeader, isFramingError, type AssemblyBuffer } from './grpc-message-framing.ts';
import { GrpcStatus, encodeGrpcMessage } from './grpc-status.ts';

/** Who is calling: the remote address and, over TLS, the client certificate TLS verified. */
export interface GrpcPeer {
  /** `IP:PORT` (`[IPv6]:PORT`), or `unix:PATH` for a Unix socket. */
  address: string;
  /** DER of the client certificate, only when it chained to the server's trusted CAs. */
  certificate?: Buffer;
}

export interface GrpcServerStreamInit {
  stream: ServerHttp2Stream;
  path: string;
  metadata: GrpcMetadata;
  peer: GrpcPeer;
  maxReceiveMessageBytes: number;
  /** Assemble messages spread over DATA frames in this shared memory: each 'message' buffer is then valid only while its listeners run. */
  assembly?: AssemblyBuffer;
}

/**
 * One gRPC call on the server, over one HTTP/2 stream: the request messages as events, response
 * messages written as lists of buffers (framed here, never joined: a shared body is handed to
 * HTTP/2 by reference), and the final status in trailers (or trailers-only when nothing was sent).
 *
 * Events: 'message' (Buffer: one request message; with `assembly`, valid only during the event:
 * copy what is kept), 'end' (the client half-closed), 'cancelled'
 * (the stream went away before the server ended it: client RST_STREAM, disconnect, shutdown),
 * 'drain' (writable again after write returned false), 'close' (always, once, last).
 */
export class GrpcServerStream extends EventEmitter {
  readonly path: string;
  readonly metadata: GrpcMetadata;
  readonly peer: GrpcPeer;
  private readonly stream: ServerHttp2Stream;
  private readonly reader: GrpcMessageReader;
  private headersSent = false;
  private statusSent = false;
  private closedEmitted = false;
  private wasCancelled = false;
  private trailers: Record<string, string> = {};

  constructor(init: GrpcServerStreamInit) {
    super();
    this.path = init.path;
    this.metadata = init.metadata;
    this.peer = init.peer;
    this.stream = init.stream;
    this.reader = new GrpcMessageReader({ maxMessageBytes: init.maxReceiveMessageBytes, ...(init.assembly ? { assembly: init.assembly } : {}) });
    const s = init.stream;
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('end', () => this.onEnd());
    s.on('drain', () => this.emit('drain'));
    s.on('wantTrailers', () => {
      if (s.destroyed) return;
      s.sendTrailers(this.trailers);
    });
    // Stream errors (peer reset, session torn down) end in 'close' below.
    s.on('error', () => {});
    s.on('close', () => this.onClose());
  }

  /** True once the server sent its status or the stream is gone. */
  get ended(): boolean {
    return this.statusSent || this.stream.destroyed || this.stream.closed;
  }

  get cancelled(): boolean {
    return this.wasCancelled;
  }

  /** True when HTTP/2 is buffering more than its high-water mark (wait for 'drain'). */
  get needsDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  /**
   * Write one response message made of `parts`, in order, without copying them (HTTP/2 keeps a
   * reference until the bytes are on the socket; do not modify them before the callback). The
   * callback runs once the message is flushed, or with an error if the stream closed first.
   * Returns false when the caller should wait for 'drain'.
   */
  write(parts: readonly Uint8Array[], callback?: (err?: Error | null) => void): boolean {
    if (this.ended) {
      if (callback) queueMicrotask(() => callback(new Error('gRPC stream closed')));
      return false;
    }
    this.sendHeaders();
    let length = 0;
    let last = -1;
    for (let i = 0; i < parts.length; i++) {
      length += parts[i]!.length;
      if (parts[i]!.length > 0) last = i;
    }
    const s = this.stream;
    s.cork();
    let ok = s.write(frameHeader(length), last < 0 ? callback : undefined);
    for (let i = 0; i <= last; i++) {
      const p = parts[i]!;
      if (p.length > 0) ok = s.write(p, i === last ? callback : undefined);
    }
    s.uncork();
    return ok;
  }

  /** End the call with a status (OK by default); the message is percent-encoded into grpc-message. */
  end(code: number = GrpcStatus.OK, message = ''): void {
    if (this.ended) return;
    this.statusSent = true;
    const status: Record<string, string> = { 'grpc-status': String(code) };
    if (message) status['grpc-message'] = encodeGrpcMessage(message);
    const s = this.stream;
    if (!this.headersSent) {
      this.headersSent = true;
      s.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
    } else {
      this.trailers = status;
      s.end();
    }
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  }

  private onData(chunk: Buffer): void {
    if (this.statusSent) return;
    const messages = this.reader.push(chunk);
    if (isFramingError(messages)) {
      this.end(messages.code, messages.message);
      return;
    }
    for (const m of messages) {
      if (this.ended) return;
      this.emit('message', m);
    }
  }

  private onEnd(): void {
    // A reset (client cancel) also ends the readable side: that is not a half-close.
    if (this.ended || this.stream.aborted || (this.stream.rstCode !== undefined && this.stream.rstCode !== 0)) return;
    if (!this.reader.atBoundary) {
      this.end(GrpcStatus.INTERNAL, 'client half-closed in the middle of a message');
      return;
    }
    this.emit('end');
  }

  private onClose(): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    if (!this.statusSent) {
      this.statusSent = true;
      this.wasCancelled = true;
      this.emit('cancelled');
    }
    this.emit('close');
  }
}
