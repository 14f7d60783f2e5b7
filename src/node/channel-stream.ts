import type { WebSocket } from 'ws';

/**
 * Kubernetes' WebSocket streaming subprotocols for exec and attach (`channel.k8s.io` and its
 * versions): every message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error,
 * 4 resize); `base64.` variants send text with the channel as a digit and base64 data. From v4 the
 * error channel carries a metav1.Status (exit codes); v5 adds the close signal (255, channel) by
 * which the client ends its stdin.
 */
export const CHANNEL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io', 'v4.base64.channel.k8s.io', 'v3.base64.channel.k8s.io', 'v2.base64.channel.k8s.io'] as const;

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
const CLOSE_SIGNAL = 255;

/** The protocol the server picks from what the client offers (the first it knows, in the server's order). */
export function selectChannelProtocol(offered: Iterable<string>): string | undefined {
  const set = new Set(offered);
  return CHANNEL_PROTOCOLS.find((p) => set.has(p));
}

/** The outcome of a command as the error channel reports it. */
export type ExecOutcome = { exitCode: number } | { error: string };

/** metav1.Status for the error channel (v4, v5), as the kubelet's streaming server writes it. */
export function outcomeStatus(o: ExecOutcome): Record<string, unknown> {
  if ('error' in o) return { metadata: {}, status: 'Failure', message: o.error, reason: 'InternalError', code: 500 };
  if (o.exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${o.exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(o.exitCode) }] },
  };
}

export interface ChannelHandlers {
  stdin?(data: Buffer): void;
  /** The client closed its stdin (v5 close signal). */
  stdinEnd?(): void;
  resize?(size: { width: number; height: number }): void;
  /** The WebSocket went away. */
  closed(): void;
}

/** One exec/attach WebSocket, demultiplexed. */
export class ChannelStream {
  readonly protocol: string;
  private readonly ws: WebSocket;
  private readonly base64: boolean;
  private readonly version: number;
  private ended = false;

  constructor(ws: WebSocket, handlers: ChannelHandlers) {
    this.ws = ws;
    this.protocol = ws.protocol;
    this.base64 = this.protocol.includes('base64');
    this.version = Number(/^v(\d)\./.exec(this.protocol)?.[1] ?? 1);
    ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      let msg = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
      if (msg.length === 0) return;
      if (this.version >= 5 && msg[0] === CLOSE_SIGNAL) {
        if (msg[1] === STDIN) handlers.stdinEnd?.();
        return;
      }
      let channel = msg[0]!;
      let data = msg.subarray(1);
      if (this.base64 && !isBinary) {
        channel -= 0x30;
        data = Buffer.from(data.toString('latin1'), 'base64');
      }
      msg = data;
      if (channel === STDIN) handlers.stdin?.(msg);
      else if (channel === RESIZE) {
        try {
          const size = JSON.parse(msg.toString('utf8')) as { Width?: number; Height?: number };
          if (size.Width && size.Height) handlers.resize?.({ width: size.Width, height: size.Height });
        } catch {
          // a malformed resize is ignored, as the kubelet does
        }
      }
    });
    ws.on('close', () => {
      this.ended = true;
      handlers.closed();
    });
    ws.on('error', () => ws.terminate());
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  send(channel: number, data: Buffer): void {
    if (this.ended) return;
    if (this.base64) this.ws.send(String.fromCharCode(0x30 + channel) + data.toString('base64'), { binary: false });
    else this.ws.send(Buffer.concat([Buffer.from([channel]), data]), { binary: true });
  }

  /** Bytes queued and not yet written to the socket (for back-pressure). */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  /** Report the outcome on the error channel and close the WebSocket. */
  finish(o: ExecOutcome): void {
    if (this.ended) return;
    if (this.version >= 4) this.send(ERROR, Buffer.from(JSON.stringify(outcomeStatus(o))));
    else if ('error' in o) this.send(ERROR, Buffer.from(o.error));
    else if (o.exitCode !== 0) this.send(ERROR, Buffer.from(`command terminated with non-zero exit code: exit status ${o.exitCode}`));
    this.ws.close(1000);
  }
}
