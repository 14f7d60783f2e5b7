import { createRequire } from 'node:module';
import type net from 'node:net';
import { MizzenError } from './errors.ts';

/**
 * The destination a client meant to reach before an nft/iptables REDIRECT sent its connection to
 * us: `getsockopt(fd, SOL_IP, SO_ORIGINAL_DST)` (and `SOL_IPV6, IP6T_SO_ORIGINAL_DST` for IPv6),
 * called through koffi on the accepted socket's file descriptor. Linux only.
 */
export interface OriginalDestination {
  address: string;
  port: number;
}

const SOL_IP = 0;
const SOL_IPV6 = 41;
const SO_ORIGINAL_DST = 80;
const IP6T_SO_ORIGINAL_DST = 80;
const AF_INET = 2;
const AF_INET6 = 10;
const ENOENT = 2;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number[]) => number;

interface Native {
  getsockopt: GetSockOpt;
  errno: () => number;
}

let cached: Native | MizzenError | undefined;

function loadNative(): Native {
  // One lazily loaded handle to libc per process; it holds no mesh state.
  if (cached instanceof MizzenError) throw cached;
  if (cached) return cached;
  try {
    if (process.platform !== 'linux') throw new Error(`platform is ${process.platform}`);
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof import('koffi');
    const libc = koffi.load('libc.so.6');
    const fn = libc.func('int getsockopt(int fd, int level, int optname, _Inout_ uint8_t *optval, _Inout_ uint32_t *optlen)');
    cached = { getsockopt: fn as unknown as GetSockOpt, errno: () => koffi.errno() };
    return cached;
  } catch (err) {
    cached = new MizzenError('INTERNAL', `SO_ORIGINAL_DST is unavailable: ${(err as Error).message}`, {
      cause: err,
      hint: 'transparent capture needs Linux and the koffi package (npm ci)',
    });
    throw cached;
  }
}

/** The socket's OS file descriptor, or undefined when it has none (closed, or not a real socket). */
export function socketFd(socket: net.Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function decodeV4(buf: Buffer): OriginalDestination | undefined {
  if (buf.readUInt16LE(0) !== AF_INET) return undefined;
  const port = buf.readUInt16BE(2);
  const address = `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
  return { address, port };
}

function decodeV6(buf: Buffer): OriginalDestination | undefined {
  const family = buf.readUInt16LE(0);
  if (family === AF_INET) return decodeV4(buf);
  if (family !== AF_INET6) return undefined;
  const port = buf.readUInt16BE(2);
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(8 + i * 2).toString(16));
  const mapped = groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff';
  if (mapped) return { address: `${buf[20]}.${buf[21]}.${buf[22]}.${buf[23]}`, port };
  return { address: compressV6(groups), port };
}

function compressV6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

function query(native: Native, fd: number, level: number, name: number, size: number): Buffer | number {
  const buf = Buffer.alloc(size);
  const len = [size];
  const rc = native.getsockopt(fd, level, name, buf, len);
  if (rc !== 0) return native.errno();
  return buf;
}

/**
 * The original destination of a connection as conntrack knows it: the address the client
 * dialled before a REDIRECT/DNAT, or the socket's own local address when it was not redirected
 * (callers compare with `socket.localAddress/localPort`, as Envoy's original_dst does).
 * undefined when the kernel has no conntrack entry (e.g. the nat hooks were never loaded).
 * Throws MizzenError when the facility itself is missing (not Linux, koffi not loadable).
 */
export function getOriginalDestination(socket: net.Socket): OriginalDestination | undefined {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  const native = loadNative();
  const local = socket.localAddress ?? '';
  const v6 = local.includes(':') && !local.startsWith('::ffff:');
  if (!v6) {
    const r = query(native, fd, SOL_IP, SO_ORIGINAL_DST, 16);
    if (Buffer.isBuffer(r)) return decodeV4(r);
    if (r !== ENOENT && !local.startsWith('::ffff:')) return undefined;
  }
  const r6 = query(native, fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, 28);
  if (Buffer.isBuffer(r6)) return decodeV6(r6);
  return undefined;
}
