import { MizzenError } from './errors.ts';
import { AF_UNIX, errnoMessage, libc, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_TRUNC, SCM_RIGHTS, SHUT_RDWR, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_SEQPACKET, SOL_SOCKET } from './libc.ts';

/**
 * SOCK_SEQPACKET Unix sockets (message boundaries kept) with file descriptors passed as
 * SCM_RIGHTS ancillary data, through FFI — what Istio's ZDS uses between the node agent and
 * ztunnel, and what Node's `net` cannot do. Linux x86_64/arm64 struct layouts (msghdr 56 bytes).
 *
 * `receive()` runs recvmsg(2) on one of libuv's pool threads (a blocking call that returns when
 * a message arrives); `tryReceive()` does not block. `send` is a plain sendmsg(2): messages are
 * small and answered one at a time.
 */
export interface SeqpacketMessage {
  data: Buffer;
  /** File descriptors received with the message (now owned by the receiver). */
  fds: number[];
}

const MAX_MESSAGE = 4096;
const CONTROL_SPACE = 64;
const EAGAIN = 11;

function sockaddrUn(path: string): Buffer {
  const p = Buffer.from(path);
  if (p.length > 107) throw new MizzenError('USAGE', `unix socket path too long (${p.length} bytes): ${path}`);
  const b = Buffer.alloc(2 + p.length + 1);
  b.writeUInt16LE(AF_UNIX, 0);
  p.copy(b, 2);
  return b;
}

interface MsgHdr {
  hdr: Buffer;
  data: Buffer;
  control: Buffer;
  iov: Buffer;
}

function msghdr(data: Buffer, control: Buffer | undefined): MsgHdr {
  const c = libc();
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(c.address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const hdr = Buffer.alloc(56);
  hdr.writeBigUInt64LE(c.address(iov), 16);
  hdr.writeBigUInt64LE(1n, 24);
  if (control && control.length > 0) {
    hdr.writeBigUInt64LE(c.address(control), 32);
    hdr.writeBigUInt64LE(BigInt(control.length), 40);
  }
  return { hdr, data, control: control ?? Buffer.alloc(0), iov };
}

function parseReceived(m: MsgHdr, n: number): SeqpacketMessage {
  const flags = m.hdr.readInt32LE(48);
  const controlLen = Number(m.hdr.readBigUInt64LE(40));
  const fds: number[] = [];
  let off = 0;
  while (off + 16 <= controlLen) {
    const len = Number(m.control.readBigUInt64LE(off));
    const level = m.control.readInt32LE(off + 8);
    const type = m.control.readInt32LE(off + 12);
    if (len < 16) break;
    if (level === SOL_SOCKET && type === SCM_RIGHTS) for (let i = off + 16; i + 4 <= off + len; i += 4) fds.push(m.control.readInt32LE(i));
    off += (len + 7) & ~7;
  }
  if (flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (const fd of fds) libc().close(fd);
    throw new MizzenError('INTERNAL', 'received a truncated message');
  }
  return { data: Buffer.from(m.data.subarray(0, n)), fds };
}

export class SeqpacketSocket {
  readonly fd: number;
  private closed = false;
  /** A blocking recvmsg is running on a pool thread: the fd is closed only after it returns. */
  private receiving = false;
  private fdClosed = false;

  constructor(fd: number) {
    this.fd = fd;
  }

  static connect(path: string): SeqpacketSocket {
    const c = libc();
    const fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new MizzenError('INTERNAL', `socket(AF_UNIX, SOCK_SEQPACKET) failed: ${errnoMessage(c.errno())}`);
    const addr = sockaddrUn(path);
    if (c.connect(fd, addr, addr.length) < 0) {
      const e = c.errno();
      c.close(fd);
      throw new MizzenError('UNAVAILABLE', `cannot connect to ${path}: ${errnoMessage(e)}`, { hint: 'is the node agent running?' });
    }
    return new SeqpacketSocket(fd);
  }

  /** Send one message, with file descriptors as SCM_RIGHTS (they stay open here). */
  send(data: Uint8Array, fds: readonly number[] = []): void {
    const c = libc();
    let control: Buffer | undefined;
    if (fds.length > 0) {
      const len = 16 + 4 * fds.length;
      control = Buffer.alloc((len + 7) & ~7);
      control.writeBigUInt64LE(BigInt(len), 0);
      control.writeInt32LE(SOL_SOCKET, 8);
      control.writeInt32LE(SCM_RIGHTS, 12);
      fds.forEach((fd, i) => control!.writeInt32LE(fd, 16 + 4 * i));
    }
    const m = msghdr(Buffer.from(data), control);
    const n = c.sendmsg(this.fd, m.hdr, 0);
    if (n < 0) throw new MizzenError('UNAVAILABLE', `sendmsg failed: ${errnoMessage(c.errno())}`);
  }

  /** Wait for the next message; undefined when the peer closed the connection. */
  async receive(): Promise<SeqpacketMessage | undefined> {
    if (this.closed) return undefined;
    const m = msghdr(Buffer.alloc(MAX_MESSAGE), Buffer.alloc(CONTROL_SPACE));
    this.receiving = true;
    let n: number;
    try {
      n = await libc().recvmsgAsync(this.fd, m.hdr, MSG_CMSG_CLOEXEC);
    } finally {
      this.receiving = false;
      if (this.closed) this.closeFd();
    }
    if (n <= 0 || this.closed) {
      if (n > 0) for (const fd of parseReceived(m, n).fds) libc().close(fd);
      return undefined;
    }
    return parseReceived(m, n);
  }

  /** The next message if one is waiting; null when none is; undefined when the peer closed. */
  tryReceive(): SeqpacketMessage | null | undefined {
    if (this.closed) return undefined;
    const c = libc();
    const m = msghdr(Buffer.alloc(MAX_MESSAGE), Buffer.alloc(CONTROL_SPACE));
    const n = c.recvmsg(this.fd, m.hdr, MSG_CMSG_CLOEXEC | 0x40 /* MSG_DONTWAIT */);
    if (n < 0) {
      if (c.errno() === EAGAIN) return null;
      return undefined;
    }
    if (n === 0) return undefined;
    return parseReceived(m, n);
  }

  /** Close; a receive() in progress returns undefined (the fd is released once it has). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().shutdown(this.fd, SHUT_RDWR);
    if (!this.receiving) this.closeFd();
  }

  private closeFd(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    libc().close(this.fd);
  }
}

/** A listening SEQPACKET socket; `tryAccept` never blocks (callers poll it). */
export class SeqpacketListener {
  readonly fd: number;
  readonly path: string;
  private closed = false;

  constructor(path: string) {
    const c = libc();
    const fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw new MizzenError('INTERNAL', `socket(AF_UNIX, SOCK_SEQPACKET) failed: ${errnoMessage(c.errno())}`);
    const addr = sockaddrUn(path);
    if (c.bind(fd, addr, addr.length) < 0 || c.listen(fd, 16) < 0) {
      const e = c.errno();
      c.close(fd);
      throw new MizzenError('INTERNAL', `cannot listen on ${path}: ${errnoMessage(e)}`, { hint: 'is another node agent using it? remove a stale socket file' });
    }
    this.fd = fd;
    this.path = path;
  }

  /** A connected peer (blocking socket), or undefined when none is waiting. */
  tryAccept(): SeqpacketSocket | undefined {
    if (this.closed) return undefined;
    const c = libc();
    const fd = c.accept4(this.fd, null, null, SOCK_CLOEXEC);
    return fd >= 0 ? new SeqpacketSocket(fd) : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
  }
}
