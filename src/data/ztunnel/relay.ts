import type { Duplex } from 'node:stream';

/**
 * A pure byte relay between two duplex streams (TCP sockets, HTTP/2 CONNECT streams), as
 * ztunnel's copy_bidirectional: each direction pipes; the end of one direction (FIN,
 * END_STREAM) ends the write side toward the other peer; an error or reset on either side tears
 * both down. `done` runs once, when both are finished or one failed.
 */
export function relay(a: Duplex, b: Duplex, done: (error?: string) => void): void {
  let finished = false;
  let closed = 0;
  const finish = (error?: string): void => {
    if (finished) return;
    finished = true;
    done(error);
  };
  const fail = (which: Duplex, err: Error & { code?: string }): void => {
    const other = which === a ? b : a;
    other.destroy();
    which.destroy();
    finish(err.code ?? err.message);
  };
  a.on('error', (e) => fail(a, e));
  b.on('error', (e) => fail(b, e));
  const onClose = (which: Duplex): void => {
    const other = which === a ? b : a;
    // A clean close (both directions ended) ends the other side; anything else cuts it.
    if (!other.destroyed) {
      if (which.readableEnded && which.writableFinished) other.end();
      else other.destroy();
    }
    if (++closed === 2) finish();
  };
  a.once('close', () => onClose(a));
  b.once('close', () => onClose(b));
  a.pipe(b);
  b.pipe(a);
}
