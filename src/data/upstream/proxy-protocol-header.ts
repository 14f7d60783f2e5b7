import * as net from 'node:net';

/** One end of a proxied connection. */
export interface ProxyAddress {
  address: string;
  port: number;
}

/** What an upstream connection's PROXY header says (Envoy's upstream_proxy_protocol transport socket). */
export interface ProxyHeaderSpec {
  version: 1 | 2;
  /** The downstream connection's peer and (original) destination; unset: the upstream socket's own local and remote addresses, as Envoy without proxy-protocol filter state. */
  source?: ProxyAddress;
  destination?: ProxyAddress;
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** An IPv4-mapped IPv6 address as IPv4; anything else unchanged. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** The 16 bytes of an IPv6 address in text form ("::" and an embedded IPv4 tail allowed). */
function ipv6Bytes(address: string): Buffer {
  const groups = (part: string): number[] => {
    const out: number[] = [];
    for (const g of part ? part.split(':') : []) {
      if (g.includes('.')) {
        const b = g.split('.').map(Number);
        out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const [head, tail] = address.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt) for a connection from `source` to
 * `destination`: v1 `PROXY TCP4|TCP6 src dst sport dport\r\n`, v2 the binary PROXY command over
 * TCP. Ends of different families (or not IP at all) give v1 `PROXY UNKNOWN` and v2's LOCAL
 * command, as Envoy does.
 */
export function proxyProtocolHeader(version: 1 | 2, source: ProxyAddress, destination: ProxyAddress): Buffer {
  const src = unmapped(source.address);
  const dst = unmapped(destination.address);
  const family = net.isIPv4(src) && net.isIPv4(dst) ? 4 : net.isIPv6(src) && net.isIPv6(dst) ? 6 : 0;
  if (version === 1) {
    if (family === 0) return Buffer.from('PROXY UNKNOWN\r\n');
    return Buffer.from(`PROXY TCP${family} ${src} ${dst} ${source.port} ${destination.port}\r\n`);
  }
  if (family === 0) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const addrs = family === 4
    ? Buffer.concat([Buffer.from(src.split('.').map(Number)), Buffer.from(dst.split('.').map(Number))])
    : Buffer.concat([ipv6Bytes(src), ipv6Bytes(dst)]);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(source.port, 0);
  ports.writeUInt16BE(destination.port, 2);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(addrs.length + 4, 0);
  // version 2, command PROXY; AF_INET/AF_INET6 over STREAM
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, family === 4 ? 0x11 : 0x21]), len, addrs, ports]);
}
