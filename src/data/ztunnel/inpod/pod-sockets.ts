import dgram from 'node:dgram';
import { Socket } from 'node:net';
import type { NetworkNamespace } from '../../../lib/network-namespace.ts';
import { closeFd, createListenerFd, createSocketFd } from '../../../lib/socket-fd.ts';

/**
 * Sockets inside one pod's network namespace (ztunnel's InPodSocketFactory): listeners,
 * outbound connections and UDP, all created there through setns and marked 0x539 (1337) so the
 * pod's capture rules let ztunnel's own traffic pass. An upstream connection may bind the
 * original client's address (IP_TRANSPARENT), so the application sees the real source; the
 * pod's 0x111 connmark/table 100 rules route the replies back to ztunnel.
 */
export const INPOD_MARK = 0x539;

export interface SocketFactory {
  listener(port: number, address?: string): number;
  /** A TCP connection to host:port; `sourceIp` spoofs the source (transparent). */
  connect(host: string, port: number, sourceIp?: string): Socket;
  udp(port: number, address: string, onReady: (err?: Error) => void): dgram.Socket;
}

export class PodSockets implements SocketFactory {
  readonly netns: NetworkNamespace;
  private readonly home: NetworkNamespace;

  constructor(netns: NetworkNamespace, home: NetworkNamespace) {
    this.netns = netns;
    this.home = home;
  }

  listener(port: number, address = '0.0.0.0'): number {
    return this.netns.run(this.home, () => createListenerFd(address, port, { mark: INPOD_MARK, reusePort: true, ipv6: address.includes(':') }));
  }

  connect(host: string, port: number, sourceIp?: string): Socket {
    const v6 = host.includes(':');
    const fd = this.netns.run(this.home, () =>
      createSocketFd({ mark: INPOD_MARK, ipv6: v6, ...(sourceIp ? { transparent: true, bind: { address: sourceIp, port: 0 } } : {}) }),
    );
    let s: Socket;
    try {
      s = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    s.connect(port, host);
    return s;
  }

  udp(port: number, address: string, onReady: (err?: Error) => void): dgram.Socket {
    const fd = this.netns.run(this.home, () => createSocketFd({ protocol: 'udp', mark: INPOD_MARK, reuseAddress: true, bind: { address, port } }));
    const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', (e) => queueMicrotask(() => onReady(e)));
    sock.bind({ fd }, () => queueMicrotask(() => onReady()));
    return sock;
  }

  close(): void {
    this.netns.close();
  }
}
