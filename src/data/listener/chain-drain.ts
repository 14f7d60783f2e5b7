import type * as net from 'node:net';

/**
 * One accepted downstream connection as its filter chain sees it. How it is drained depends on
 * the protocol the chain ends up running, which is known only after TLS and sniffing, so the
 * protocol sets it later (`onDrain`), possibly more than once (HTTP/1.1 that turns out to be
 * HTTP/2 prior knowledge).
 */
export class ChainConnection {
  private readonly sockets: net.Socket[];
  private drainFn: (() => void) | undefined;
  private closeFn: (() => void) | undefined;
  draining = false;

  constructor(socket: net.Socket) {
    this.sockets = [socket];
  }

  /** A socket layered on the first one (the TLS socket): closed with it. */
  addSocket(s: net.Socket): void {
    this.sockets.push(s);
  }

  /** How the protocol drains (HTTP/1.1: `connection: close` on the next response; HTTP/2: GOAWAY); runs at once when draining already. */
  onDrain(fn: () => void, close?: () => void): void {
    this.drainFn = fn;
    this.closeFn = close;
    if (this.draining) fn();
  }

  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.drainFn?.();
  }

  /** The drain period is over: close whatever is left. */
  close(): void {
    this.closeFn?.();
    for (const s of this.sockets) s.destroy();
  }
}

/**
 * The open connections of one filter chain and its drain, as Envoy applies a listener update:
 * connections on a chain that the update removes or changes are drained (`drain()` on each at
 * once, Istio's `--drain-strategy immediate`) and whatever is still open when the drain period
 * ends is closed; a chain that is unchanged keeps its connections untouched. A connection that
 * arrives on a chain already draining (it was mid-handshake at the update) is drained as it
 * comes, and closed at once when the period is over.
 */
export class ChainConnections {
  private readonly open = new Set<ChainConnection>();
  private state: 'active' | 'draining' | 'drained' = 'active';
  private timer: NodeJS.Timeout | undefined;

  get size(): number {
    return this.open.size;
  }

  get draining(): boolean {
    return this.state !== 'active';
  }

  /** Track a connection until it closes (`socket` 'close' removes it). */
  add(c: ChainConnection, socket: net.Socket): void {
    if (this.state === 'drained') {
      c.close();
      return;
    }
    this.open.add(c);
    socket.once('close', () => this.open.delete(c));
    if (this.state === 'draining') c.drain();
  }

  /** Start draining; `done` runs when the period is over (after the leftovers are closed). */
  startDrain(periodMs: number, done: () => void): void {
    if (this.state !== 'active') return;
    this.state = 'draining';
    for (const c of this.open) c.drain();
    this.timer = setTimeout(() => {
      this.finish();
      done();
    }, periodMs);
    this.timer.unref();
  }

  /** Drain every open connection without a period or closing them (the proxy's graceful termination). */
  drainOpen(): void {
    for (const c of this.open) c.drain();
  }

  /** End the drain now (proxy shutdown): close every connection. */
  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'drained';
    for (const c of [...this.open]) c.close();
    this.open.clear();
  }
}
