import type dgram from 'node:dgram';
import type { Server, Socket } from 'node:net';
import { buildResponse, parseQuery, RCODE_SERVFAIL } from './dns-message.ts';
import type { DnsClient, DnsResolver } from './dns-resolver.ts';

/**
 * Istio's DNS proxy on 15053 (UDP and TCP, length-prefixed), for one client (a pod): mesh names
 * answered by the resolver, the rest forwarded upstream as is; SERVFAIL when forwarding fails.
 * Sockets are given (ztunnel makes them inside the pod; a sidecar binds its own).
 */
export interface DnsCounters {
  requests: number;
  upstreamRequests: number;
  upstreamFailures: number;
}

export interface DnsProxyOptions {
  resolver: DnsResolver;
  client: () => DnsClient | undefined;
  /** Send a raw query upstream; resolves with the raw response (undefined: failed). */
  forward: (query: Buffer) => Promise<Buffer | undefined>;
  counters: DnsCounters;
}

export class DnsProxy {
  private readonly o: DnsProxyOptions;
  private udp: dgram.Socket | undefined;
  private tcp: Server | undefined;
  private readonly tcpConns = new Set<Socket>();

  constructor(o: DnsProxyOptions) {
    this.o = o;
  }

  /** Answer one raw query. */
  async answer(msg: Buffer): Promise<Buffer | undefined> {
    const q = parseQuery(msg);
    if (!q) return undefined;
    this.o.counters.requests++;
    const client = this.o.client();
    const r = client ? this.o.resolver.resolve(q.name, q.type, client) : 'forward';
    if (r !== 'forward') return buildResponse(q, r.answers, r.rcode);
    this.o.counters.upstreamRequests++;
    const up = await this.o.forward(msg);
    if (up) return up;
    this.o.counters.upstreamFailures++;
    return buildResponse(q, [], RCODE_SERVFAIL);
  }

  serveUdp(sock: dgram.Socket): void {
    this.udp = sock;
    sock.on('message', (msg, rinfo) => {
      void this.answer(msg).then((out) => {
        if (out) sock.send(out, rinfo.port, rinfo.address);
      });
    });
    sock.on('error', () => {});
  }

  serveTcp(server: Server): void {
    this.tcp = server;
    server.on('connection', (s: Socket) => {
      this.tcpConns.add(s);
      s.once('close', () => this.tcpConns.delete(s));
      s.on('error', () => {});
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2) {
          const len = buf.readUInt16BE(0);
          if (buf.length < 2 + len) break;
          const msg = buf.subarray(2, 2 + len);
          buf = buf.subarray(2 + len);
          void this.answer(Buffer.from(msg)).then((out) => {
            if (!out || s.destroyed) return;
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(out.length, 0);
            s.write(Buffer.concat([prefix, out]));
          });
        }
      });
    });
  }

  close(): void {
    try {
      this.udp?.close();
    } catch {
      // already closed
    }
    this.tcp?.close();
    for (const s of this.tcpConns) s.destroy();
  }
}
