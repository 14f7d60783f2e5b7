import * as net from 'node:net';
import { MizzenError } from './errors.ts';
import { AF_UNIX, errnoMessage, libc, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from './libc.ts';

/**
 * Two connected stream sockets (socketpair(2), AF_UNIX), each owned by a Node `net.Socket`: what
 * Envoy's internal listeners are to a proxy — a connection that never leaves the process, that
 * every socket consumer (HTTP codecs, tcp_proxy, pools) handles like a TCP one. The waypoint
 * hands each HBONE tunnel to its `main_internal` listener through one, and reaches
 * `connect_originate` through another.
 */
export function socketPair(): [net.Socket, net.Socket] {
  const c = libc();
  const sv = Buffer.alloc(8);
  if (c.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
    throw new MizzenError('INTERNAL', `socketpair failed: ${errnoMessage(c.errno())}`);
  }
  const open = (fd: number): net.Socket => new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  return [open(sv.readInt32LE(0)), open(sv.readInt32LE(4))];
}
