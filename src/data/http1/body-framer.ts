// chunked-body parser states
const SIZE_FIRST = 0; // first hex digit of a chunk size
const SIZE = 1; // more hex digits, or the end of the size
const EXT = 2; // chunk extension, up to CR
const SIZE_LF = 3; // LF ending the size line
const DATA = 4;
const DATA_CR = 5; // CR after chunk data
const DATA_LF = 6; // LF after chunk data
const TRAILER_START = 7; // start of a trailer line (CR: end of the message)
const TRAILER = 8; // inside a trailer line, up to CR
const TRAILER_LF = 9; // LF ending a trailer line
const END_LF = 10; // LF ending the message

/** More hex digits than a chunk size can sensibly have (2^52). */
const MAX_SIZE_DIGITS = 13;

/**
 * Finds where an HTTP/1.1 message body ends without copying it: the bytes are forwarded as they
 * are (chunk framing included); this only tracks how many belong to the current message.
 * Chunked framing is read strictly (RFC 9112 7.1): hex sizes of at most 13 digits, every line
 * ended by CRLF (a bare CR or LF is an error), CRLF right after each chunk's data, trailer
 * section bounded — anything else is an error, so that no two readers can disagree on where the
 * message ends (request smuggling).
 */
export class BodyFramer {
  /** 'none' (no body), 'length', 'chunked', or 'close' (until the connection closes). */
  mode: 'none' | 'length' | 'chunked' | 'close' = 'none';
  remaining = 0;
  done = true;
  /** Body bytes seen (framing included for chunked). */
  bytes = 0;
  private cs = SIZE_FIRST;
  private size = 0;
  private digits = 0;
  private trailerBytes = 0;
  private maxTrailerBytes = 60 * 1024;
  error: string | undefined;

  /** `maxTrailerBytes`: the trailer section's limit (Envoy: max_request_headers_kb). */
  reset(mode: 'none' | 'length' | 'chunked' | 'close', length = 0, maxTrailerBytes = 60 * 1024): void {
    this.mode = mode;
    this.remaining = length;
    this.bytes = 0;
    this.error = undefined;
    this.cs = SIZE_FIRST;
    this.size = 0;
    this.digits = 0;
    this.trailerBytes = 0;
    this.maxTrailerBytes = maxTrailerBytes;
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
        case DATA: {
          const n = Math.min(end - i, this.remaining);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.cs = DATA_CR;
          continue;
        }
        case SIZE_FIRST:
        case SIZE: {
          const c = buf[i++];
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail(i - offset, 'chunk size too large');
            this.size = this.size * 16 + d;
            this.cs = SIZE;
            continue;
          }
          if (this.cs === SIZE_FIRST) return this.fail(i - offset, 'invalid chunk size');
          if (c === 13) this.cs = SIZE_LF;
          else if (c === 59 || c === 32 || c === 9) this.cs = EXT; // `;ext` (after optional whitespace)
          else return this.fail(i - offset, 'invalid chunk size');
          continue;
        }
        case EXT: {
          const c = buf[i++];
          if (c === 13) this.cs = SIZE_LF;
          else if (c === 10 || c < 9 || (c > 9 && c < 32) || c === 127) return this.fail(i - offset, 'invalid character in a chunk extension');
          continue;
        }
        case SIZE_LF: {
          if (buf[i++] !== 10) return this.fail(i - offset, 'chunk size line not ended by CRLF');
          this.remaining = this.size;
          this.cs = this.size === 0 ? TRAILER_START : DATA;
          this.size = 0;
          this.digits = 0;
          continue;
        }
        case DATA_CR: {
          if (buf[i++] !== 13) return this.fail(i - offset, 'chunk data not followed by CRLF');
          this.cs = DATA_LF;
          continue;
        }
        case DATA_LF: {
          if (buf[i++] !== 10) return this.fail(i - offset, 'chunk data not followed by CRLF');
          this.cs = SIZE_FIRST;
          continue;
        }
        case TRAILER_START: {
          const c = buf[i++];
          if (c === 13) this.cs = END_LF;
          else if (c === 10) return this.fail(i - offset, 'bare LF in the trailer section');
          else this.cs = TRAILER;
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(i - offset, 'trailers too large');
          continue;
        }
        case TRAILER: {
          const c = buf[i++];
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(i - offset, 'trailers too large');
          if (c === 13) this.cs = TRAILER_LF;
          else if (c === 10 || c === 0) return this.fail(i - offset, 'invalid character in the trailer section');
          continue;
        }
        case TRAILER_LF: {
          if (buf[i++] !== 10) return this.fail(i - offset, 'bare CR in the trailer section');
          this.cs = TRAILER_START;
          continue;
        }
        case END_LF: {
          if (buf[i++] !== 10) return this.fail(i - offset, 'bare CR at the end of a chunked body');
          this.done = true;
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
