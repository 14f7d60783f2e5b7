import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * A connection as node:http2 sees it, reading its socket whenever bytes arrive.
 *
 * Node's HTTP/2 session stops reading its socket while one of its own socket writes is pending
 * (node_http2.cc, MaybeStopReading). Two such peers (a Node client multiplexing a hundred ADS
 * streams, and this server) that each queue more than the kernel's socket buffers hold then wait
 * for each other forever: neither reads, so neither write completes. Go's HTTP/2 (istiod) reads
 * and writes independently, so it never meets this. Between the socket and the session, this
 * stream keeps the socket flowing: what arrives while the session is not reading waits here
 * (bounded by the session's own HTTP/2 flow-control windows, which it re-opens only as it
 * processes data), so the peer's writes complete and it goes back to reading our responses.
 * Writes pass through with the socket's own completion, so the session still sees backpressure.
 */
export class AlwaysReadingSocket extends Duplex {
  readonly socket: Socket | TLSSocket;

  constructor(socket: Socket | TLSSocket) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => void this.push(chunk));
    socket.on('end', () => void this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    // The socket is always flowing (see above); nothing to resume.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    const s = this.socket;
    s.cork();
    for (let i = 0; i < chunks.length; i++) s.write(chunks[i]!.chunk, i === chunks.length - 1 ? callback : undefined);
    s.uncork();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.socket.destroyed) this.socket.destroy();
    callback(err);
  }
}
