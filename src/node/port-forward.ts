import type { Socket } from 'node:net';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { RST_PROTOCOL_ERROR, SpdyConnection, type SpdyHeaders, type SpdyTransport } from './spdy-connection.ts';

/** The SPDY subprotocol of `kubectl port-forward` (also tunnelled in WebSocket as `SPDY/3.1+portforward.k8s.io`). */
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** Opens a TCP connection to `port` on the pod's loopback (inside its network namespace). */
export type PodDialer = (port: number) => Socket;

interface Pair {
  error?: number;
  data?: number;
  port?: number;
  socket?: Socket;
  done?: boolean;
}

/**
 * The kubelet's port-forward protocol (portforward.k8s.io over SPDY): for each forwarded
 * connection the client opens an error stream and a data stream with the same `requestID` and
 * `port` headers; the data stream is relayed to the pod's `localhost:PORT`, and a failure is
 * written on the error stream, as the kubelet's message. Both streams are half-closed when the
 * pod's side ends.
 */
export class PortForwardSession {
  readonly conn: SpdyConnection;
  private readonly pairs = new Map<string, Pair>();
  private readonly byStream = new Map<number, string>();
  private readonly o: { pod: string; dial: PodDialer; log: Logger };

  constructor(transport: SpdyTransport, o: { pod: string; dial: PodDialer; log: Logger }) {
    this.o = o;
    this.conn = new SpdyConnection(transport, {
      stream: (id, headers) => this.onStream(id, headers),
      data: (id, data, fin) => this.onData(id, data, fin),
      reset: (id) => this.onReset(id),
      closed: () => {
        for (const p of this.pairs.values()) p.socket?.destroy();
        this.pairs.clear();
      },
    });
  }

  private onStream(id: number, headers: SpdyHeaders): void {
    const one = (k: string): string | undefined => headers.get(k)?.[0];
    const type = one('streamtype');
    const port = Number(one('port'));
    if ((type !== 'error' && type !== 'data') || !Number.isInteger(port) || port < 1 || port > 65535) {
      this.o.log.warn({ pod: this.o.pod, type, port: one('port') }, 'port-forward stream refused');
      this.conn.reset(id, RST_PROTOCOL_ERROR);
      return;
    }
    // Clients before requestID pair an error stream with the data stream opened right after it.
    const requestId = one('requestid') ?? String(type === 'error' ? id : id - 2);
    const pair = this.pairs.get(requestId) ?? {};
    this.pairs.set(requestId, pair);
    this.byStream.set(id, requestId);
    pair.port = port;
    this.conn.reply(id);
    if (type === 'error') pair.error = id;
    else pair.data = id;
    if (type === 'data') this.connect(requestId, pair);
  }

  private connect(requestId: string, pair: Pair): void {
    const port = pair.port!;
    let socket: Socket;
    try {
      socket = this.o.dial(port);
    } catch (err) {
      this.fail(requestId, pair, errorMessage(err));
      return;
    }
    pair.socket = socket;
    let connected = false;
    socket.on('connect', () => (connected = true));
    socket.on('data', (b: Buffer) => {
      if (pair.data !== undefined) this.conn.data(pair.data, b);
    });
    socket.on('end', () => this.finish(requestId, pair));
    socket.on('error', (err) => {
      if (!connected) this.fail(requestId, pair, err.message);
      else this.finish(requestId, pair);
    });
    socket.on('close', () => this.finish(requestId, pair));
  }

  private fail(requestId: string, pair: Pair, why: string): void {
    const message = `error forwarding port ${pair.port} to pod ${this.o.pod}: failed to connect to localhost:${pair.port} inside the pod's network namespace: ${why}`;
    this.o.log.info({ pod: this.o.pod, port: pair.port, err: why }, 'port-forward connection failed');
    if (pair.error !== undefined) this.conn.data(pair.error, Buffer.from(message));
    this.finish(requestId, pair);
  }

  /** Half-close both streams once (the pod's side ended or could not be reached). */
  private finish(requestId: string, pair: Pair): void {
    if (pair.done) return;
    pair.done = true;
    if (pair.data !== undefined) this.conn.data(pair.data, Buffer.alloc(0), true);
    if (pair.error !== undefined) this.conn.data(pair.error, Buffer.alloc(0), true);
    pair.socket?.destroy();
    this.forget(requestId, pair);
  }

  private forget(requestId: string, pair: Pair): void {
    this.pairs.delete(requestId);
    for (const id of [pair.error, pair.data]) if (id !== undefined) this.byStream.delete(id);
  }

  private onData(id: number, data: Buffer, fin: boolean): void {
    const requestId = this.byStream.get(id);
    const pair = requestId === undefined ? undefined : this.pairs.get(requestId);
    if (!pair || id !== pair.data) return;
    if (data.length > 0) pair.socket?.write(data);
    if (fin) pair.socket?.end();
  }

  private onReset(id: number): void {
    const requestId = this.byStream.get(id);
    const pair = requestId === undefined ? undefined : this.pairs.get(requestId);
    if (!pair || requestId === undefined) return;
    // The client resets the data stream when its local connection is done: drop the pod's side.
    if (id === pair.data) {
      pair.done = true;
      pair.socket?.destroy();
      if (pair.error !== undefined) this.conn.data(pair.error, Buffer.alloc(0), true);
      this.forget(requestId, pair);
    }
  }

  receive(chunk: Buffer): void {
    this.conn.receive(chunk);
  }

  close(reason: string): void {
    this.conn.close(reason);
  }
}
