import { createServer } from 'node:net';
import { forwardUdp } from '../../dns/dns-forwarder.ts';
import { DnsProxy, type DnsCounters } from '../../dns/dns-proxy.ts';
import type { DnsResolver } from '../../dns/dns-resolver.ts';
import type { PodIdentity } from '../outbound-proxy.ts';
import type { SocketFactory } from './pod-sockets.ts';

/**
 * A pod's DNS proxy (ztunnel's in-pod 15053 on 127.0.0.1, UDP and TCP; the pod's DNS is
 * redirected to it when DNS capture is on): mesh names from the workload API, everything else
 * forwarded to the upstream resolvers from inside the pod (marked, so not captured again).
 */
export const DNS_PORT = 15053;

export interface PodDnsOptions {
  resolver: DnsResolver;
  upstreams: readonly string[];
  counters: DnsCounters;
}

export class PodDns {
  private readonly proxy: DnsProxy;
  private readonly sockets: SocketFactory;

  constructor(pod: PodIdentity, sockets: SocketFactory, o: PodDnsOptions) {
    this.sockets = sockets;
    this.proxy = new DnsProxy({
      resolver: o.resolver,
      client: () => ({ namespace: pod.namespace }),
      forward: (q) => this.forward(q, o.upstreams),
      counters: o.counters,
    });
  }

  async start(): Promise<void> {
    const udp = await new Promise<import('node:dgram').Socket>((resolve, reject) => {
      const s = this.sockets.udp(DNS_PORT, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
    });
    this.proxy.serveUdp(udp);
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ fd: this.sockets.listener(DNS_PORT, '127.0.0.1') }, () => resolve());
    });
    this.proxy.serveTcp(tcp);
  }

  private forward(query: Buffer, upstreams: readonly string[]): Promise<Buffer | undefined> {
    return forwardUdp(query, upstreams, (port, address, cb) => this.sockets.udp(port, address, cb));
  }

  close(): void {
    this.proxy.close();
  }
}
