/**
 * A small ASN.1 DER reader and writer: just what X.509 certificates and PKCS#10 requests need.
 * Writing is done with plain Buffers so hot paths (certificate issuance) stay allocation-light;
 * reading returns offsets into the original buffer, so signed parts can be sliced out verbatim.
 */

export const TAG = Object.freeze({
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
});

function lengthBytes(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given tag around `content` (content parts are concatenated). */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0] : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.sequence, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(TAG.set, ...items);
export const nullValue = (): Buffer => Buffer.from([TAG.null, 0]);
export const boolean = (v: boolean): Buffer => Buffer.from([TAG.boolean, 1, v ? 0xff : 0]);
export const octetString = (b: Buffer): Buffer => tlv(TAG.octetString, b);
export const utf8String = (s: string): Buffer => tlv(TAG.utf8String, Buffer.from(s, 'utf8'));
export const ia5String = (s: string): Buffer => tlv(TAG.ia5String, Buffer.from(s, 'ascii'));

/** BIT STRING with no unused bits. */
export const bitString = (b: Buffer): Buffer => tlv(TAG.bitString, Buffer.from([0]), b);

/** [n] EXPLICIT: constructed context tag around a complete TLV. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

/** [n] IMPLICIT primitive: context tag replacing the primitive's own. */
export const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

/** INTEGER from unsigned big-endian bytes (leading zeros trimmed, sign byte added when needed). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return (trimmed[0] ?? 0) & 0x80 ? tlv(TAG.integer, Buffer.from([0]), trimmed) : tlv(TAG.integer, trimmed);
}

export function smallInteger(n: number): Buffer {
  if (n < 0 || n > 0x7fffffff) throw new RangeError(`smallInteger out of range: ${n}`);
  const bytes: number[] = [];
  for (let v = n; ; v = Math.floor(v / 256)) {
    bytes.unshift(v & 0xff);
    if (v < 256) break;
  }
  if (bytes[0] & 0x80) bytes.unshift(0);
  return tlv(TAG.integer, Buffer.from(bytes));
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    const enc: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) enc.unshift((v & 0x7f) | 0x80);
    bytes.push(...enc);
  }
  return tlv(TAG.oid, Buffer.from(bytes));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(TAG.utcTime, Buffer.from(digits.slice(2), 'ascii'));
  return tlv(TAG.generalizedTime, Buffer.from(digits, 'ascii'));
}

// ---------------------------------------------------------------------------------------------
// Reading

/** One parsed TLV: positions are absolute offsets into the buffer it was read from. */
export interface DerElement {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the element. */
  end: number;
}

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Read the TLV at `offset`, bounded by `limit`. Only definite lengths (DER) are accepted. */
export function readElement(buf: Buffer, offset: number, limit = buf.length): DerElement {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let len = buf[offset + 1];
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('unsupported length encoding');
    if (pos + n > limit) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i];
    pos += n;
  }
  const end = pos + len;
  if (end > limit) throw new DerError('element overruns its container');
  return { tag, start: offset, contentStart: pos, end };
}

/** The child elements of a constructed element. */
export function children(buf: Buffer, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let off = parent.contentStart; off < parent.end; ) {
    const el = readElement(buf, off, parent.end);
    out.push(el);
    off = el.end;
  }
  return out;
}

export function expectTag(el: DerElement | undefined, tag: number, what: string): DerElement {
  if (!el || el.tag !== tag) throw new DerError(`expected ${what}`);
  return el;
}

export const content = (buf: Buffer, el: DerElement): Buffer => buf.subarray(el.contentStart, el.end);
export const whole = (buf: Buffer, el: DerElement): Buffer => buf.subarray(el.start, el.end);

/** Dotted form of an OBJECT IDENTIFIER element. */
export function readOid(buf: Buffer, el: DerElement): string {
  expectTag(el, TAG.oid, 'OBJECT IDENTIFIER');
  const bytes = content(buf, el);
  if (bytes.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const values: number[] = [];
  let v = 0;
  for (let i = 0; i < bytes.length; i++) {
    v = v * 128 + (bytes[i] & 0x7f);
    if (!(bytes[i] & 0x80)) {
      values.push(v);
      v = 0;
    }
  }
  const first = values[0];
  const arcs = [first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80, ...values.slice(1)];
  return arcs.join('.');
}

/** Content of a BIT STRING with zero unused bits. */
export function readBitString(buf: Buffer, el: DerElement): Buffer {
  expectTag(el, TAG.bitString, 'BIT STRING');
  const c = content(buf, el);
  if (c.length < 1 || c[0] !== 0) throw new DerError('BIT STRING with unused bits');
  return c.subarray(1);
}
