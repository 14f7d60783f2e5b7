import type { Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The native stream under a net/tls socket, as node:http2 consumes it (LibuvStreamWrap or TLSWrap). */
interface NativeStream {
  readStart(): number;
}

interface Watched {
  handle: NativeStream;
  socket: Socket | TLSSocket;
  /** Open HTTP/2 streams on this session. */
  streams: number;
}

/** How often a session that carries several streams is kicked (ms). */
const MULTIPLEXED_PERIOD_MS = 10;
/** How often every session is kicked (ms): a single stream with a request larger than the socket buffers can stall too. */
const ALL_PERIOD_MS = 1000;

/**
 * Keeps node:http2 sessions reading their socket while one of their writes waits, at native speed.
 *
 * Node's HTTP/2 session stops reading its socket while one of its own socket writes is pending
 * (node_http2.cc, `MaybeStopReading`). Two such peers (a Node client multiplexing a hundred ADS
 * streams, and this server) that each queue more than the kernel's socket buffers hold then wait
 * for each other forever: neither reads, so neither write completes (issue 21). Go's HTTP/2
 * (istiod) reads and writes independently, so it never meets this.
 *
 * The session marks itself "reading stopped" and calls `ReadStop()` on the native stream it
 * consumed; it starts reading again only when that write completes. Calling `readStart()` on the
 * same native stream resumes the reads (they still go to the session, which parses them as
 * always), and because the session still believes it stopped, it does not stop again until its
 * pending write completes and it clears the mark itself. On a stream that is reading already,
 * `readStart()` is a no-op (libuv answers EALREADY), so kicking costs one native call (~0.25 µs).
 * What a session reads while it waits is bounded by its own HTTP/2 flow-control windows, as
 * with any reading session.
 *
 * Sessions carrying several streams (the only ones that met the deadlock) are kicked every
 * 10 ms, every other session once a second. The bytes go from the socket to the session without
 * passing through JavaScript; `AlwaysReadingSocket` (a Duplex, ~3× the CPU per byte sent) is the
 * fallback for a socket without a native stream.
 */
export class SessionReadKicker {
  private readonly sessions = new Map<Http2Session, Watched>();
  private readonly multiplexed = new Set<Watched>();
  private fast: NodeJS.Timeout | undefined;
  private slow: NodeJS.Timeout | undefined;

  /** True when `socket` has a native stream this class can kick (false: wrap it instead). */
  static canKick(socket: Socket | TLSSocket): boolean {
    return typeof nativeStreamOf(socket)?.readStart === 'function';
  }

  /** Watch `session`, which runs over `socket` (checked with canKick). */
  add(session: Http2Session, socket: Socket | TLSSocket): void {
    const handle = nativeStreamOf(socket);
    if (!handle || this.sessions.has(session)) return;
    this.sessions.set(session, { handle, socket, streams: 0 });
    session.once('close', () => this.remove(session));
    this.slow ??= setInterval(() => this.kickAll(), ALL_PERIOD_MS).unref();
  }

  /** A stream opened on `session`; call streamClosed when it closes. */
  streamOpened(session: Http2Session): void {
    const w = this.sessions.get(session);
    if (!w || ++w.streams !== 2) return;
    this.multiplexed.add(w);
    this.fast ??= setInterval(() => this.kickMultiplexed(), MULTIPLEXED_PERIOD_MS).unref();
  }

  streamClosed(session: Http2Session): void {
    const w = this.sessions.get(session);
    if (!w || --w.streams !== 1) return;
    this.multiplexed.delete(w);
    this.stopFastWhenIdle();
  }

  /** Stop watching every session (the server is closing). */
  close(): void {
    this.sessions.clear();
    this.multiplexed.clear();
    clearInterval(this.fast);
    clearInterval(this.slow);
    this.fast = this.slow = undefined;
  }

  private remove(session: Http2Session): void {
    const w = this.sessions.get(session);
    if (!w) return;
    this.sessions.delete(session);
    this.multiplexed.delete(w);
    this.stopFastWhenIdle();
    if (this.sessions.size === 0) {
      clearInterval(this.slow);
      this.slow = undefined;
    }
  }

  private stopFastWhenIdle(): void {
    if (this.multiplexed.size > 0) return;
    clearInterval(this.fast);
    this.fast = undefined;
  }

  private kickMultiplexed(): void {
    for (const w of this.multiplexed) kick(w);
  }

  private kickAll(): void {
    for (const w of this.sessions.values()) kick(w);
  }
}

function kick(w: Watched): void {
  if (w.socket.destroyed) return;
  w.handle.readStart();
}

function nativeStreamOf(socket: Socket | TLSSocket): NativeStream | undefined {
  // `_handle` is the native stream node:http2 consumes (net.Socket's documented-in-practice field).
  return (socket as unknown as { _handle?: NativeStream | null })._handle ?? undefined;
}
