import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { ChannelStream, selectChannelProtocol, STDOUT } from './channel-stream.ts';
import { streamLog } from './container-log-stream.ts';
import { runExec, type ExecPlan, type ExecStreams } from './container-exec.ts';
import { PORT_FORWARD_PROTOCOL, PortForwardSession, type PodDialer } from './port-forward.ts';

/** Why a stream cannot be served: the HTTP status and message the kubelet answers with. */
export interface StreamRefusal {
  status: number;
  message: string;
}

/** A container's output, for attach. */
export interface AttachSource {
  logFile: string;
  isRunning(): boolean;
}

/** What the node answers for the streaming endpoints (a refusal when it cannot). */
export interface StreamingBackend {
  execPlan(namespace: string, pod: string, uid: string | undefined, container: string | undefined, command: string[]): ExecPlan | StreamRefusal;
  attachSource(namespace: string, pod: string, uid: string | undefined, container: string | undefined): AttachSource | StreamRefusal;
  dialer(namespace: string, pod: string, uid: string | undefined): { pod: string; dial: PodDialer } | StreamRefusal;
}

const TUNNEL_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;

/** A refusal, not the thing asked for (pods and containers have a status() method, refusals a number). */
export const refused = (x: object): x is StreamRefusal => typeof (x as { status?: unknown }).status === 'number' && typeof (x as { message?: unknown }).message === 'string';

/**
 * The kubelet's streaming endpoints, reached by HTTP upgrades the API server forwards:
 * `/exec/NS/POD[/UID]/CONTAINER?command=...&input=1&output=1&error=1&tty=1` and `/attach/...` over
 * WebSocket channel protocols (v5.channel.k8s.io ... channel.k8s.io; the API server forwards
 * kubectl's WebSocket to nodes declaring ExtendWebSocketsToKubelet), `/portForward/NS/POD[/UID]`
 * over SPDY/3.1 (`portforward.k8s.io`), plain or tunnelled in a WebSocket. exec and attach over
 * SPDY (clients without WebSocket) are refused with a message.
 */
export class KubeletStreaming {
  private readonly channels = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => selectChannelProtocol(offered) ?? false });
  private readonly tunnels = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => (offered.has(TUNNEL_PROTOCOL) ? TUNNEL_PROTOCOL : false) });
  private readonly live = new Set<{ close(): void }>();
  private readonly o: { backend: StreamingBackend; log: Logger };

  constructor(o: { backend: StreamingBackend; log: Logger }) {
    this.o = o;
  }

  /** Serve an authorized upgrade request; `parts` is the decoded path. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer, parts: string[], query: URLSearchParams): void {
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    const ws = upgrade === 'websocket';
    const kind = parts[0];
    try {
      if (kind === 'portForward') return this.portForward(req, socket, head, parts, ws);
      if (kind !== 'exec' && kind !== 'attach') return httpError(socket, 404, `${parts.join('/')}: not found`);
      if (!ws) return httpError(socket, 400, `${kind} over ${upgrade || 'plain HTTP'} is not served by mizzen node: it streams exec and attach over WebSocket (v5.channel.k8s.io to channel.k8s.io; kubectl >= 1.30 uses it)`);
      const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
      if (!selectChannelProtocol(offered)) return httpError(socket, 400, `none of the WebSocket subprotocols offered (${offered.join(', ') || 'none'}) is one of ${['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io'].join(', ')}`);
      const [, namespace, pod, a, b] = parts as [string, string, string, string | undefined, string | undefined];
      const uid = b !== undefined ? a : undefined;
      const container = b ?? a;
      const flag = (k: string): boolean => query.get(k) === '1' || query.get(k) === 'true';
      const streams: ExecStreams = { stdin: flag('input'), stdout: flag('output'), stderr: flag('error'), tty: flag('tty') };
      if (!streams.stdin && !streams.stdout && !streams.stderr) return httpError(socket, 400, 'you must specify at least 1 of stdin, stdout, stderr');
      if (streams.tty && streams.stderr) return httpError(socket, 400, 'stdout and stderr cannot both be requested with tty');
      // Refusals of a WebSocket request are reported on its error channel, as a runtime's exec
      // errors are: an HTTP error would make kubectl retry over SPDY and show that refusal instead.
      const refuse = (r: StreamRefusal): void =>
        this.channels.handleUpgrade(req, socket, head, (w) => new ChannelStream(w, { closed: () => undefined }).finish({ error: r.message }));
      if (kind === 'exec') {
        const command = query.getAll('command');
        if (command.length === 0) return refuse({ status: 400, message: 'you must specify a command (query parameter "command")' });
        const plan = this.o.backend.execPlan(namespace, pod, uid, container, command);
        if (refused(plan)) return refuse(plan);
        this.channels.handleUpgrade(req, socket, head, (w) => {
          this.track(w);
          runExec(w, plan, streams, this.o.log);
        });
        return;
      }
      if (streams.stdin || streams.tty) return refuse({ status: 400, message: 'kubectl attach -i/-t is not served by mizzen node: containers run without a stdin or terminal; kubectl attach without -i streams the output' });
      const source = this.o.backend.attachSource(namespace, pod, uid, container);
      if (refused(source)) return refuse(source);
      this.channels.handleUpgrade(req, socket, head, (w) => {
        this.track(w);
        this.attach(w, source);
      });
    } catch (err) {
      this.o.log.warn({ path: req.url, err: errorMessage(err) }, 'kubelet streaming request failed');
      httpError(socket, 500, errorMessage(err));
    }
  }

  private track(w: WebSocket): void {
    const entry = { close: () => w.terminate() };
    this.live.add(entry);
    w.once('close', () => this.live.delete(entry));
  }

  /** The container's output from now on, until it stops or the client leaves. */
  private attach(w: WebSocket, source: AttachSource): void {
    let stop = (): void => {};
    const channels = new ChannelStream(w, { closed: () => stop() });
    stop = streamLog(
      source.logFile,
      { follow: true, previous: false, timestamps: false, tailLines: 0 },
      { write: (b) => channels.send(STDOUT, b), end: () => channels.finish({ exitCode: 0 }), get closed() { return !channels.isOpen; } },
      () => source.isRunning(),
    );
  }

  private portForward(req: IncomingMessage, socket: Duplex, head: Buffer, parts: string[], ws: boolean): void {
    const [, namespace, pod, uid] = parts as [string, string, string, string | undefined];
    if (ws) {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '');
      if (!offered.split(',').map((s) => s.trim()).includes(TUNNEL_PROTOCOL)) {
        return httpError(socket, 400, `port-forward over WebSocket is served as ${TUNNEL_PROTOCOL} (kubectl's tunnel); offered: ${offered || 'none'}`);
      }
    } else {
      const versions = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((s) => s.trim());
      if (String(req.headers.upgrade ?? '').toLowerCase() !== 'spdy/3.1') return httpError(socket, 400, 'port-forward needs an upgrade to SPDY/3.1 or a WebSocket tunnel');
      if (!versions.includes(PORT_FORWARD_PROTOCOL)) return httpError(socket, 403, `port-forward protocol versions offered (${versions.join(', ') || 'none'}) do not include ${PORT_FORWARD_PROTOCOL}`);
    }
    const target = this.o.backend.dialer(namespace, pod, uid);
    if (refused(target)) return httpError(socket, target.status, target.message);
    const log = this.o.log;
    if (ws) {
      this.tunnels.handleUpgrade(req, socket, head, (w) => {
        this.track(w);
        const session = new PortForwardSession({ write: (b) => (w.send(b, { binary: true }), true), end: () => w.close(1000) }, { ...target, log });
        w.on('message', (m: Buffer | ArrayBuffer | Buffer[]) => session.receive(Buffer.isBuffer(m) ? m : Array.isArray(m) ? Buffer.concat(m) : Buffer.from(m)));
        w.on('close', () => session.close('the WebSocket closed'));
        w.on('error', () => w.terminate());
      });
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`);
    const session = new PortForwardSession({ write: (b) => socket.write(b), end: () => socket.end() }, { ...target, log });
    const entry = { close: () => socket.destroy() };
    this.live.add(entry);
    if (head.length > 0) session.receive(head);
    socket.on('data', (b: Buffer) => session.receive(b));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.live.delete(entry);
      session.close('the connection closed');
    });
  }

  close(): void {
    for (const s of this.live) s.close();
    this.live.clear();
    this.channels.close();
    this.tunnels.close();
  }
}

/** An HTTP error answer on a socket that was about to be upgraded. */
export function httpError(socket: Duplex, status: number, message: string): void {
  const text = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 501: 'Not Implemented' }[status] ?? 'Error';
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
