import { createRequire } from 'node:module';
import { NetworkNamespace } from '../../../src/lib/network-namespace.ts';
import { libc } from '../../../src/lib/libc.ts';

/**
 * A tcpdump-like capture for tests: an AF_PACKET raw socket bound to one interface (or all) inside a
 * network namespace, collecting every frame (both directions) until stopped. Frames are parsed
 * down to IPv4/TCP: addresses, ports and payload, so a test can check what crossed a veth.
 */
export interface CapturedSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const ETH_P_ALL = 0x0003;
const MSG_DONTWAIT = 0x40;

export class PacketCapture {
  readonly segments: CapturedSegment[] = [];
  private readonly fd: number;
  private readonly timer: NodeJS.Timeout;
  private readonly recv: (fd: number, buf: Buffer, len: number, flags: number) => number;

  constructor(netnsPath: string, ifname: string) {
    const c = libc();
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    this.recv = lib.func('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)') as never;
    const ifIndex = lib.func('unsigned int if_nametoindex(const char *name)') as (n: string) => number;
    const home = NetworkNamespace.current();
    const ns = NetworkNamespace.open(netnsPath);
    try {
      this.fd = ns.run(home, () => {
        const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
        if (fd < 0) throw new Error(`AF_PACKET socket failed (errno ${c.errno()})`);
        // '' = every interface of the namespace (a bridge's own socket does not see bridged frames)
        const idx = ifname === '' ? 0 : ifIndex(ifname);
        if (ifname !== '' && !idx) throw new Error(`no interface ${ifname} in ${netnsPath}`);
        // struct sockaddr_ll { u16 family; u16 protocol (BE); int ifindex; u16 hatype; u8 pkttype; u8 halen; u8 addr[8] }
        const sll = Buffer.alloc(20);
        sll.writeUInt16LE(AF_PACKET, 0);
        sll.writeUInt16BE(ETH_P_ALL, 2);
        sll.writeInt32LE(idx, 4);
        if (c.bind(fd, sll, sll.length) < 0) throw new Error(`bind to ${ifname} failed (errno ${c.errno()})`);
        return fd;
      });
    } finally {
      ns.close();
      home.close();
    }
    this.timer = setInterval(() => this.drain(), 5);
  }

  private drain(): void {
    const buf = Buffer.alloc(65536);
    for (;;) {
      const n = Number(this.recv(this.fd, buf, buf.length, MSG_DONTWAIT));
      if (n <= 0) return;
      const f = buf.subarray(0, n);
      if (f.length < 14 + 20 || f.readUInt16BE(12) !== 0x0800) continue;
      const ip = f.subarray(14);
      const ihl = (ip[0]! & 0x0f) * 4;
      if (ip[9] !== 6) continue;
      const total = ip.readUInt16BE(2);
      const tcp = ip.subarray(ihl, total);
      const off = (tcp[12]! >> 4) * 4;
      this.segments.push({
        src: `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`,
        dst: `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`,
        srcPort: tcp.readUInt16BE(0),
        dstPort: tcp.readUInt16BE(2),
        payload: Buffer.from(tcp.subarray(off)),
      });
    }
  }

  /** Stop capturing (after draining what the kernel still holds). */
  stop(): CapturedSegment[] {
    this.drain();
    clearInterval(this.timer);
    libc().close(this.fd);
    return this.segments;
  }
}

function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}
