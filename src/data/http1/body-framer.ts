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

// chunk-extension states
const X_AFTER = 0; // after the size or a complete extension: BWS, `;` or CR
const X_BEFORE_NAME = 1; // after `;`
const X_NAME = 2;
const X_NAME_WS = 3; // whitespace after a name: `=`, `;` or CR
const X_BEFORE_VALUE = 4; // after `=`
const X_TOKEN = 5;
const X_QUOTED = 6;
const X_ESCAPED = 7;

/** Trailer fields that would change how the message is framed or routed. */
const FORBIDDEN_TRAILERS = new Set(['transfer-encoding', 'content-length', 'host', 'connection', 'te', 'upgrade', 'trailer', 'keep-alive', 'proxy-connection']);

/** RFC 9110 tchar, by byte. */
const TOKEN_CHAR = new Uint8Array(256);
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[ch.charCodeAt(0)] = 1;

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
  /** Where a chunk extension is (X_*). */
  private ext = 0;
  /** Inside a trailer field's name (before its colon). */
  private trailerName = false;
  /** The trailer field name so far (lower case, its first 24 bytes). */
  private trailerField = '';
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
    this.ext = 0;
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
          else if (c === 59 || c === 32 || c === 9) {
            this.cs = EXT; // `;ext` (after optional whitespace)
            this.ext = c === 59 ? X_BEFORE_NAME : X_AFTER;
          }
          else return this.fail(i - offset, 'invalid chunk size');
          continue;
        }
        case EXT: {
          // chunk-ext (RFC 9112 7.1.1): *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
          const c = buf[i++];
          const ws = c === 32 || c === 9;
          const tok = TOKEN_CHAR[c] === 1;
          const e = this.ext;
          if (e === X_QUOTED || e === X_ESCAPED) {
            if ((c < 32 && c !== 9) || c === 127) return this.fail(i - offset, 'invalid character in a chunk extension');
            this.ext = e === X_ESCAPED ? X_QUOTED : c === 92 ? X_ESCAPED : c === 34 ? X_AFTER : X_QUOTED;
            continue;
          }
          if (c === 13 && (e === X_AFTER || e === X_NAME || e === X_TOKEN)) {
            this.cs = SIZE_LF;
            continue;
          }
          if (e === X_AFTER || e === X_NAME || e === X_TOKEN) {
            if (c === 59) this.ext = X_BEFORE_NAME;
            else if (c === 61 && e === X_NAME) this.ext = X_BEFORE_VALUE;
            else if (tok && e !== X_AFTER) continue;
            else if (ws) this.ext = e === X_NAME ? X_NAME_WS : X_AFTER;
            else return this.fail(i - offset, 'invalid character in a chunk extension');
            continue;
          }
          if (e === X_NAME_WS) {
            if (c === 61) this.ext = X_BEFORE_VALUE;
            else if (c === 59) this.ext = X_BEFORE_NAME;
            else if (c === 13) this.cs = SIZE_LF;
            else if (!ws) return this.fail(i - offset, 'invalid character in a chunk extension');
            continue;
          }
          // X_BEFORE_NAME / X_BEFORE_VALUE: optional whitespace, then a token (or a quoted value)
          if (ws) continue;
          if (tok) this.ext = e === X_BEFORE_NAME ? X_NAME : X_TOKEN;
          else if (c === 34 && e === X_BEFORE_VALUE) this.ext = X_QUOTED;
          else return this.fail(i - offset, e === X_BEFORE_NAME ? 'chunk extension without a name' : 'chunk extension without a value');
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
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(i - offset, 'trailers too large');
          if (c === 13) this.cs = END_LF;
          else if (c === 10) return this.fail(i - offset, 'bare LF in the trailer section');
          // a trailer is a header field (RFC 9112 7.1.2): a token name first, no obs-fold
          else if (TOKEN_CHAR[c] !== 1) return this.fail(i - offset, 'invalid trailer field name');
          else {
            this.cs = TRAILER;
            this.trailerName = true;
            this.trailerField = String.fromCharCode(c | 0x20);
          }
          continue;
        }
        case TRAILER: {
          const c = buf[i++];
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(i - offset, 'trailers too large');
          if (this.trailerName) {
            if (c === 58) {
              // ':' ends the name: fields that frame or route a message may not come as trailers (RFC 9110 6.5.1)
              this.trailerName = false;
              if (FORBIDDEN_TRAILERS.has(this.trailerField)) return this.fail(i - offset, `${this.trailerField} is not allowed as a trailer`);
            } else if (TOKEN_CHAR[c] !== 1) return this.fail(i - offset, 'invalid trailer field name');
            else if (this.trailerField.length < 24) this.trailerField += String.fromCharCode(c >= 65 && c <= 90 ? c | 0x20 : c);
            continue;
          }
          if (c === 13) this.cs = TRAILER_LF;
          else if ((c < 32 && c !== 9) || c === 127) return this.fail(i - offset, 'invalid character in a trailer field value');
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
