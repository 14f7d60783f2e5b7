import { createRequire } from 'node:module';
import { MizzenError } from './errors.ts';

/**
 * The libc calls Node has no API for (setns, socket options, SEQPACKET + SCM_RIGHTS), through
 * koffi. One lazily loaded function table per process; it holds no mesh state. Linux only:
 * loading elsewhere throws a MizzenError with a hint.
 */
export interface Libc {
  setns(fd: number, nstype: number): number;
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: number[]): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  accept4(fd: number, addr: null, len: null, flags: number): number;
  close(fd: number): number;
  shutdown(fd: number, how: number): number;
  /** socketpair(2): `sv` is an 8-byte Buffer that receives the two descriptors. */
  socketpair(domain: number, type: number, protocol: number, sv: Buffer): number;
  open(path: string, flags: number): number;
  sendmsg(fd: number, msg: Buffer, flags: number): number;
  recvmsg(fd: number, msg: Buffer, flags: number): number;
  /** The same call on one of koffi's worker threads (for calls that block). */
  recvmsgAsync(fd: number, msg: Buffer, flags: number): Promise<number>;
  acceptAsync(fd: number): Promise<number>;
  /** posix_openpt(3), grantpt(3), unlockpt(3), ptsname_r(3): a pseudo-terminal's controller side. */
  posix_openpt(flags: number): number;
  grantpt(fd: number): number;
  unlockpt(fd: number): number;
  ptsname_r(fd: number, buf: Buffer, len: number): number;
  /** ioctl(2) with a pointer argument (e.g. TIOCSWINSZ). */
  ioctlPtr(fd: number, request: number, arg: Buffer): number;
  /** madvise(2) on this process's own mappings (src/lib/executable-pages.ts). */
  madvise(addr: bigint, length: number, advice: number): number;
  /** malloc_trim(3): give free heap memory of every malloc arena back to the kernel. */
  malloc_trim(pad: number): number;
  /** getrlimit(2)/setrlimit(2): `rlim` is a 16-byte struct rlimit (soft, hard as unsigned 64-bit). */
  getrlimit(resource: number, rlim: Buffer): number;
  setrlimit(resource: number, rlim: Buffer): number;
  errno(): number;
  /** Address of a Buffer's memory (to put pointers inside a struct). */
  address(buf: Buffer): bigint;
}

export const CLONE_NEWNET = 0x40000000;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SOL_IP = 0;
export const SOL_IPV6 = 41;
export const SO_REUSEADDR = 2;
export const SO_REUSEPORT = 15;
export const SO_MARK = 36;
export const IP_TRANSPARENT = 19;
export const IP_FREEBIND = 15;
export const IPV6_TRANSPARENT = 75;
export const IPV6_FREEBIND = 78;
export const IPV6_V6ONLY = 26;
export const SCM_RIGHTS = 1;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const MSG_TRUNC = 0x20;
export const MSG_CTRUNC = 0x8;
export const SHUT_RDWR = 2;
export const EINPROGRESS = 115;
export const O_RDWR = 2;
export const O_NOCTTY = 0o400;
export const TIOCSWINSZ = 0x5414;
export const RLIMIT_NOFILE = 7;

let cached: Libc | MizzenError | undefined;

export function libc(): Libc {
  if (cached instanceof MizzenError) throw cached;
  if (cached) return cached;
  try {
    if (process.platform !== 'linux') throw new Error(`platform is ${process.platform}`);
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    const f = (sig: string): ((...a: unknown[]) => number) & { async: (...a: unknown[]) => void } => lib.func(sig) as never;
    const recvmsg = f('long recvmsg(int fd, void *msg, int flags)');
    const accept4 = f('int accept4(int fd, void *addr, void *len, int flags)');
    const ioctl = f('int ioctl(int fd, unsigned long request, ...)');
    const table: Libc = {
      setns: f('int setns(int fd, int nstype)') as Libc['setns'],
      socket: f('int socket(int domain, int type, int protocol)') as Libc['socket'],
      setsockopt: f('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)') as Libc['setsockopt'],
      getsockopt: f('int getsockopt(int fd, int level, int optname, _Inout_ uint8_t *optval, _Inout_ uint32_t *optlen)') as Libc['getsockopt'],
      bind: f('int bind(int fd, const void *addr, uint32_t len)') as Libc['bind'],
      listen: f('int listen(int fd, int backlog)') as Libc['listen'],
      connect: f('int connect(int fd, const void *addr, uint32_t len)') as Libc['connect'],
      accept4: accept4 as Libc['accept4'],
      close: f('int close(int fd)') as Libc['close'],
      shutdown: f('int shutdown(int fd, int how)') as Libc['shutdown'],
      socketpair: f('int socketpair(int domain, int type, int protocol, _Out_ uint8_t *sv)') as Libc['socketpair'],
      open: f('int open(const char *path, int flags)') as Libc['open'],
      sendmsg: f('long sendmsg(int fd, const void *msg, int flags)') as Libc['sendmsg'],
      recvmsg: recvmsg as Libc['recvmsg'],
      recvmsgAsync: (fd, msg, flags) => new Promise((resolve, reject) => recvmsg.async(fd, msg, flags, (err: Error | null, n: number) => (err ? reject(err) : resolve(Number(n))))),
      acceptAsync: (fd) => new Promise((resolve, reject) => accept4.async(fd, null, null, SOCK_CLOEXEC, (err: Error | null, n: number) => (err ? reject(err) : resolve(n)))),
      posix_openpt: f('int posix_openpt(int flags)') as Libc['posix_openpt'],
      grantpt: f('int grantpt(int fd)') as Libc['grantpt'],
      unlockpt: f('int unlockpt(int fd)') as Libc['unlockpt'],
      ptsname_r: f('int ptsname_r(int fd, _Out_ uint8_t *buf, size_t len)') as Libc['ptsname_r'],
      ioctlPtr: (fd, request, arg) => ioctl(fd, request, 'uint8_t *', arg),
      madvise: f('int madvise(uintptr_t addr, size_t length, int advice)') as Libc['madvise'],
      malloc_trim: f('int malloc_trim(size_t pad)') as Libc['malloc_trim'],
      getrlimit: f('int getrlimit(int resource, _Out_ uint8_t *rlim)') as Libc['getrlimit'],
      setrlimit: f('int setrlimit(int resource, const uint8_t *rlim)') as Libc['setrlimit'],
      errno: () => koffi.errno(),
      address: (buf) => koffi.address(buf) as bigint,
    };
    cached = table;
    return table;
  } catch (err) {
    cached = new MizzenError('INTERNAL', `native socket calls are unavailable: ${(err as Error).message}`, {
      cause: err,
      hint: 'ambient mode needs Linux and the koffi package (npm ci)',
    });
    throw cached;
  }
}

/** The errno of the last failed call, as a message (`EPERM (1)`). */
export function errnoMessage(errno: number): string {
  const names: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 9: 'EBADF', 11: 'EAGAIN', 13: 'EACCES', 22: 'EINVAL', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 104: 'ECONNRESET', 107: 'ENOTCONN', 111: 'ECONNREFUSED', 115: 'EINPROGRESS' };
  return `${names[errno] ?? 'errno'} (${errno})`;
}
