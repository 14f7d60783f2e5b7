import { MizzenError } from './errors.ts';
import { CLONE_NEWNET, errnoMessage, libc, O_CLOEXEC, O_RDONLY } from './libc.ts';

/**
 * A network namespace held open by a file descriptor (a `/var/run/netns/NAME` path, `/proc/PID/ns/net`,
 * or an fd received from a node agent), and the way into it: `run(fn)` switches the calling
 * thread (Node's main thread) into the namespace with setns(2), runs `fn` synchronously, and
 * switches back. Only synchronous socket creation belongs inside: a socket belongs to the
 * namespace it was created in, and keeps it after the thread leaves; libuv's own threads never
 * change namespace.
 */
export class NetworkNamespace {
  readonly fd: number;
  readonly description: string;
  private closed = false;

  constructor(fd: number, description: string) {
    this.fd = fd;
    this.description = description;
  }

  static open(path: string): NetworkNamespace {
    const fd = libc().open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw new MizzenError('INTERNAL', `cannot open network namespace ${path}: ${errnoMessage(libc().errno())}`, { hint: 'does the namespace exist, and is this process root?' });
    return new NetworkNamespace(fd, path);
  }

  /** The namespace this process's main thread is in now (to come back to). */
  static current(): NetworkNamespace {
    return NetworkNamespace.open('/proc/thread-self/ns/net');
  }

  /** Run `fn` inside this namespace; `home` is where the thread goes back to. */
  run<T>(home: NetworkNamespace, fn: () => T): T {
    if (this.closed) throw new MizzenError('INTERNAL', `network namespace ${this.description} is closed`);
    const c = libc();
    if (c.setns(this.fd, CLONE_NEWNET) !== 0) throw new MizzenError('INTERNAL', `setns into ${this.description} failed: ${errnoMessage(c.errno())}`, { hint: 'entering a pod needs CAP_SYS_ADMIN' });
    try {
      return fn();
    } finally {
      if (c.setns(home.fd, CLONE_NEWNET) !== 0) {
        // A thread stuck in a pod's namespace would create every later socket there: stop.
        process.stderr.write(`fatal: setns back to ${home.description} failed: ${errnoMessage(c.errno())}\n`);
        process.exit(70);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
  }
}
