import net from 'node:net';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { NetworkNamespace } from '../lib/network-namespace.ts';
import { closeFd, createListenerFd } from '../lib/socket-fd.ts';

/**
 * A TCP listener inside a network namespace whose connections are relayed to an address of the
 * root namespace (the API server on 127.0.0.1): the listening socket is created in the namespace
 * (setns on this thread), the outgoing connections from here.
 */
export class NetnsRelay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly o: { netns: string; listen: { address: string; port: number }; target: { host: string; port: number }; log: Logger };

  constructor(o: NetnsRelay['o']) {
    this.o = o;
  }

  async start(): Promise<void> {
    const home = NetworkNamespace.current();
    const ns = NetworkNamespace.open(`/run/netns/${this.o.netns}`);
    let fd: number;
    try {
      fd = ns.run(home, () => createListenerFd(this.o.listen.address, this.o.listen.port));
    } finally {
      ns.close();
      home.close();
    }
    const server = net.createServer((client) => {
      const upstream = net.connect(this.o.target.port, this.o.target.host);
      this.sockets.add(client).add(upstream);
      const done = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', done).on('close', done);
      upstream.on('error', (err) => {
        this.o.log.debug({ err: errorMessage(err) }, 'relay target unreachable');
        done();
      }).on('close', done);
      client.pipe(upstream).pipe(client);
    });
    try {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ fd }, () => resolve()));
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
