import { openSync } from 'node:fs';
import { MizzenError } from './errors.ts';
import { errnoMessage, libc, O_CLOEXEC, O_NOCTTY, O_RDWR, TIOCSWINSZ } from './libc.ts';

/**
 * A pseudo-terminal (posix_openpt): the controller side stays here (read and written through
 * `tty.ReadStream`), the terminal side (`/dev/pts/N`) becomes a process's stdin/stdout/stderr
 * and controlling terminal (`setsid -c`). Node has no API for it.
 */
export class PseudoTerminal {
  readonly controller: number;
  readonly path: string;

  private constructor(controller: number, path: string) {
    this.controller = controller;
    this.path = path;
  }

  static open(): PseudoTerminal {
    const c = libc();
    const fd = c.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) throw new MizzenError('INTERNAL', `posix_openpt failed: ${errnoMessage(c.errno())}`);
    const name = Buffer.alloc(128);
    if (c.grantpt(fd) !== 0 || c.unlockpt(fd) !== 0 || c.ptsname_r(fd, name, name.length) !== 0) {
      const e = c.errno();
      c.close(fd);
      throw new MizzenError('INTERNAL', `cannot set up a pseudo-terminal: ${errnoMessage(e)}`);
    }
    return new PseudoTerminal(fd, name.subarray(0, name.indexOf(0)).toString('latin1'));
  }

  /** The terminal side, opened without becoming this process's controlling terminal (close it after spawning). */
  openTerminal(): number {
    return openSync(this.path, O_RDWR | O_NOCTTY);
  }

  /** The window size (TIOCSWINSZ): the process gets SIGWINCH. */
  resize(columns: number, rows: number): void {
    const ws = Buffer.alloc(8);
    ws.writeUInt16LE(Math.min(rows, 0xffff), 0);
    ws.writeUInt16LE(Math.min(columns, 0xffff), 2);
    libc().ioctlPtr(this.controller, TIOCSWINSZ, ws);
  }
}
