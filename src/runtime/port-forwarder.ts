import net from 'node:net';
import { MizzenError } from '../lib/errors.ts';
import { dialThroughNodeAgent } from './node-agent-dial.ts';

/** `--expose NS/SVC:PORT=LOCALPORT`, parsed. */
export interface ExposeSpec {
  namespace: string;
  service: string;
  port: number;
  localPort: number;
}

export function parseExpose(text: string): ExposeSpec {
  const m = /^(?:([a-z0-9-]+)\/)?([a-z0-9-]+):(\d+)=(\d+)$/.exec(text.trim());
  const port = m ? Number(m[3]) : 0;
  const localPort = m ? Number(m[4]) : 0;
  if (!m || port < 1 || port > 65535 || localPort < 1 || localPort > 65535) {
    throw new MizzenError('USAGE', `invalid --expose ${JSON.stringify(text)}`, { hint: 'use NAMESPACE/SERVICE:PORT=LOCALPORT, e.g. default/productpage:9080=19080' });
  }
  return { namespace: m[1] ?? 'default', service: m[2], port, localPort };
}

export type TargetPicker = () => { ip: string; port: number } | undefined;

/**
 * Like `kubectl port-forward svc/NAME`: listens on 127.0.0.1:LOCALPORT in the root namespace;
 * each connection goes to one ready pod of the Service, dialled from the node namespace by the
 * node agent (its Unix socket is the only way into the mesh from outside).
 */
export class PortForwarder {
  readonly spec: ExposeSpec;
  private readonly agentSocket: string;
  private readonly pick: TargetPicker;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(spec: ExposeSpec, agentSocket: string, pick: TargetPicker) {
    this.spec = spec;
    this.agentSocket = agentSocket;
    this.pick = pick;
  }

  /**
   * Listen on 127.0.0.1:LOCALPORT; with `fallbackToAnyPort`, a port already in use gives way to
   * one the system picks (the ingress gateway's default 80/443 when another process holds them).
   */
  async start(options: { fallbackToAnyPort?: boolean } = {}): Promise<void> {
    const listen = (port: number): Promise<net.Server> => {
      const server = net.createServer((client) => this.forward(client));
      return new Promise<net.Server>((resolve, reject) => {
        server.once('error', (err) => reject(new MizzenError('RUNTIME_FAILED', `cannot listen on 127.0.0.1:${port}: ${err.message}`, { hint: 'is that port already in use?' })));
        server.listen({ host: '127.0.0.1', port }, () => resolve(server));
      });
    };
    this.server = await listen(this.spec.localPort).catch((err: unknown) => {
      if (options.fallbackToAnyPort) return listen(0);
      throw err;
    });
  }

  /** The local port actually listened on. */
  get boundPort(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.spec.localPort;
  }

  private forward(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => {});
    client.pause();
    const target = this.pick();
    if (!target) {
      client.destroy();
      return;
    }
    dialThroughNodeAgent(this.agentSocket, target.ip, target.port).then((agent) => {
      this.sockets.add(agent);
      agent.on('close', () => {
        this.sockets.delete(agent);
        client.destroy();
      });
      agent.on('error', () => client.destroy());
      if (client.destroyed) {
        agent.destroy();
        return;
      }
      client.on('close', () => agent.destroy());
      agent.pipe(client);
      client.pipe(agent);
      agent.resume();
      client.resume();
    }, () => client.destroy());
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
