/**
 * Finds where an HTTP/1.1 message body ends without copying it: the bytes are forwarded as they
 * are (chunk framing included); this only tracks how many belong to the current message.
 */
export class BodyFramer {
  /** 'none' (no body), 'length', 'chunked', or 'close' (until the connection closes). */
  mode: 'none' | 'length' | 'chunked' | 'close' = 'none';
  remaining = 0;
  done = true;
  /** Body bytes seen (framing included for chunked). */
  bytes = 0;
  // chunked state
  private cs = 0; // 0 size line, 1 size-line ext (skip to LF), 2 data, 3 CRLF after data, 4 trailer line start, 5 in trailer line
  private size = 0;
  private sawDigit = false;
  error: string | undefined;

  reset(mode: 'none' | 'length' | 'chunked' | 'close', length = 0): void {
    this.mode = mode;
    this.remaining = length;
    this.bytes = 0;
    this.error = undefined;
    this.cs = 0;
    this.size = 0;
    this.sawDigit = false;
    this.done = mode === 'none' || (mode === 'length' && length === 0);
  }

  /**
   * Consume bytes from `buf[offset..]`; returns how many belong to this body. `done` turns true
   * when the body is complete. On malformed chunking `error` is set.
   */
  consume(buf: Buffer, offset: number): number {
    const avail = buf.length - offset;
    if (this.done) return 0;
    if (this.mode === 'close') {
      this.bytes += avail;
      return avail;
    }
    if (this.mode === 'length') {
      const n = avail < this.remaining ? avail : this.remaining;
      this.remaining -= n;
      this.bytes += n;
      if (this.remaining === 0) this.done = true;
      return n;
    }
    let i = offset;
    const end = buf.length;
    while (i < end && !this.done) {
      switch (this.cs) {
        case 0: {
          const c = buf[i++];
          if (c === 13) continue;
          if (c === 10) {
            if (!this.sawDigit) return this.fail(i - offset, 'missing chunk size');
            this.cs = this.size === 0 ? 4 : 2;
            this.remaining = this.size;
            this.size = 0;
            this.sawDigit = false;
            continue;
          }
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d < 0) {
            if (c === 59 || c === 32 || c === 9) { this.cs = 1; continue; }
            return this.fail(i - offset, 'invalid chunk size');
          }
          this.size = this.size * 16 + d;
          this.sawDigit = true;
          if (this.size > Number.MAX_SAFE_INTEGER / 32) return this.fail(i - offset, 'chunk too large');
          continue;
        }
        case 1: {
          const lf = buf.indexOf(10, i);
          if (lf < 0) { i = end; continue; }
          i = lf + 1;
          if (!this.sawDigit) return this.fail(i - offset, 'missing chunk size');
          this.cs = this.size === 0 ? 4 : 2;
          this.remaining = this.size;
          this.size = 0;
          this.sawDigit = false;
          continue;
        }
        case 2: {
          const n = Math.min(end - i, this.remaining);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.cs = 3;
          continue;
        }
        case 3: {
          const lf = buf.indexOf(10, i);
          if (lf < 0) { i = end; continue; }
          i = lf + 1;
          this.cs = 0;
          continue;
        }
        case 4: {
          // start of a trailer line: an empty line ends the message
          const c = buf[i++];
          if (c === 13) continue;
          if (c === 10) { this.done = true; continue; }
          this.cs = 5;
          continue;
        }
        case 5: {
          const lf = buf.indexOf(10, i);
          if (lf < 0) { i = end; continue; }
          i = lf + 1;
          this.cs = 4;
          continue;
        }
      }
    }
    this.bytes += i - offset;
    return i - offset;
  }

  private fail(n: number, msg: string): number {
    this.error = msg;
    this.done = true;
    this.bytes += n;
    return n;
  }
}
