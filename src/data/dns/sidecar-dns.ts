import dgram from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { forwardUdp } from './dns-forwarder.ts';
import { DnsProxy, type DnsCounters } from './dns-proxy.ts';
import { DnsResolver } from './dns-resolver.ts';
import { NameTable } from './name-table.ts';

/**
 * A sidecar's DNS proxy (istio-agent's, with ISTIO_META_DNS_CAPTURE): UDP and TCP on
 * 127.0.0.1:15053, where the pod's captured DNS (port 53) is redirected. Names of the NDS name
 * table are answered at once (Kubernetes names also short and namespaced, ServiceEntry hosts
 * with their addresses or auto-allocated ones); everything else is forwarded to the pod's
 * resolvers (/etc/resolv.conf), as the agent does. The proxy runs as the captured-traffic
 * exemption (uid 1337), so its own upstream queries are not redirected back to it.
 */
export const SIDECAR_DNS_PORT = 15053;

export interface SidecarDnsOptions {
  namespace: string;
  upstreams: readonly string[];
  clusterDomain?: string;
  address?: string;
  port?: number;
}

export class SidecarDns {
  readonly table = new NameTable();
  readonly counters: DnsCounters = { requests: 0, upstreamRequests: 0, upstreamFailures: 0 };
  private readonly o: SidecarDnsOptions;
  private readonly proxy: DnsProxy;
  private udp: dgram.Socket | undefined;
  private tcp: Server | undefined;
  port: number | undefined;

  constructor(o: SidecarDnsOptions) {
    this.o = o;
    const resolver = new DnsResolver(this.table, o.clusterDomain ?? 'cluster.local');
    this.proxy = new DnsProxy({
      resolver,
      // until the first name table arrives everything is forwarded, as the agent does
      client: () => (this.table.updates > 0 ? { namespace: o.namespace } : undefined),
      forward: (q) => forwardUdp(q, o.upstreams, (port, address, cb) => {
        const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
        s.once('error', cb);
        s.bind(port, address, () => {
          s.off('error', cb);
          cb();
        });
        return s;
      }),
      counters: this.counters,
    });
  }

  async start(): Promise<void> {
    const address = this.o.address ?? '127.0.0.1';
    const port = this.o.port ?? SIDECAR_DNS_PORT;
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: address, port }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.tcp = tcp;
    this.port = (tcp.address() as { port: number }).port;
    const udp = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.port, address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.udp = udp;
    this.proxy.serveUdp(udp);
    this.proxy.serveTcp(tcp);
  }

  close(): void {
    this.proxy.close();
  }
}
