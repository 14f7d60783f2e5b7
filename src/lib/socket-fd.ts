import { isIPv6 } from 'node:net';
import { MizzenError } from './errors.ts';
import {
  AF_INET,
  AF_INET6,
  errnoMessage,
  IP_FREEBIND,
  IP_TRANSPARENT,
  IPV6_FREEBIND,
  IPV6_TRANSPARENT,
  IPV6_V6ONLY,
  libc,
  SO_MARK,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_IP,
  SOL_IPV6,
  SOL_SOCKET,
} from './libc.ts';

/**
 * Sockets made with socket(2) through FFI, so that they are created in whatever network
 * namespace the calling thread is in (see NetworkNamespace.run) and carry options Node cannot set
 * (SO_MARK, IP_TRANSPARENT, IP_FREEBIND, SO_REUSEPORT). The file descriptor is then handed to Node
 * (`net.Server.listen({fd})`, `new net.Socket({fd})`, `dgram` `bind({fd})`), which owns it.
 */
export interface SocketFdOptions {
  /** tcp (default) or udp. */
  protocol?: 'tcp' | 'udp';
  /** IPv6 socket (default: IPv4, or IPv6 when `bind` is an IPv6 address). */
  ipv6?: boolean;
  /** SO_MARK (needs CAP_NET_ADMIN), e.g. ztunnel's 0x539 so capture rules let the socket pass. */
  mark?: number;
  /** IP_TRANSPARENT + IP_FREEBIND: bind an address that is not local (spoof a client's source). */
  transparent?: boolean;
  reuseAddress?: boolean;
  reusePort?: boolean;
  /** bind(2) to this address/port (port 0 = any). */
  bind?: { address: string; port: number };
}

function check(rc: number, what: string): void {
  if (rc < 0) throw new MizzenError('INTERNAL', `${what} failed: ${errnoMessage(libc().errno())}`);
}

function intValue(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return b;
}

/** struct sockaddr_in / sockaddr_in6 for an address and port. */
export function sockaddr(address: string, port: number): Buffer {
  if (!isIPv6(address)) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    const parts = address.split('.').map(Number);
    for (let i = 0; i < 4; i++) b[4 + i] = parts[i] ?? 0;
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16) || 0, 8 + i * 2));
  return b;
}

/** Create a non-blocking socket with the given options; the caller owns the fd (close it or hand it to Node). */
export function createSocketFd(options: SocketFdOptions = {}): number {
  const c = libc();
  const v6 = options.ipv6 ?? (options.bind ? isIPv6(options.bind.address) : false);
  const fd = c.socket(v6 ? AF_INET6 : AF_INET, (options.protocol === 'udp' ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  check(fd, 'socket()');
  try {
    const set = (level: number, name: number, value: number, what: string): void => check(c.setsockopt(fd, level, name, intValue(value), 4), `setsockopt(${what})`);
    if (options.reuseAddress) set(SOL_SOCKET, SO_REUSEADDR, 1, 'SO_REUSEADDR');
    if (options.reusePort) set(SOL_SOCKET, SO_REUSEPORT, 1, 'SO_REUSEPORT');
    if (options.mark !== undefined) set(SOL_SOCKET, SO_MARK, options.mark, 'SO_MARK');
    if (v6) set(SOL_IPV6, IPV6_V6ONLY, 1, 'IPV6_V6ONLY');
    if (options.transparent) {
      if (v6) {
        set(SOL_IPV6, IPV6_TRANSPARENT, 1, 'IPV6_TRANSPARENT');
        set(SOL_IPV6, IPV6_FREEBIND, 1, 'IPV6_FREEBIND');
      } else {
        set(SOL_IP, IP_TRANSPARENT, 1, 'IP_TRANSPARENT');
        set(SOL_IP, IP_FREEBIND, 1, 'IP_FREEBIND');
      }
    }
    if (options.bind) {
      const addr = sockaddr(options.bind.address, options.bind.port);
      check(c.bind(fd, addr, addr.length), `bind(${options.bind.address}:${options.bind.port})`);
    }
    return fd;
  } catch (err) {
    c.close(fd);
    throw err;
  }
}

/** A listening TCP socket bound to address:port (for `net.Server.listen({fd})`). */
export function createListenerFd(address: string, port: number, options: Omit<SocketFdOptions, 'bind' | 'protocol'> = {}): number {
  const fd = createSocketFd({ ...options, reuseAddress: true, bind: { address, port } });
  const rc = libc().listen(fd, 511);
  if (rc < 0) {
    const e = libc().errno();
    libc().close(fd);
    throw new MizzenError('INTERNAL', `listen(${address}:${port}) failed: ${errnoMessage(e)}`);
  }
  return fd;
}

export function closeFd(fd: number): void {
  libc().close(fd);
}
