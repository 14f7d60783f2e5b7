/**
 * Whether `buf[0..end)` (a message head without its final CRLFCRLF) is made only of bytes a head
 * may hold: no control character other than HTAB, no DEL, CR only as part of CRLF and LF only
 * after CR, no CRLF followed by SP/HTAB (obs-fold). True: clean. False: something to look at
 * (the caller then finds out what, on the rare slow path).
 *
 * Every request and response head goes through this, so it reads four bytes at a time: a word
 * with no byte below 0x20 and none equal to 0x7F needs no further look (the "has less than"
 * and "has zero byte" bit tricks); only words holding one (CRLF pairs, mostly) are read bytewise.
 */
export function headBytesClean(buf: Buffer, end: number): boolean {
  const off = buf.byteOffset;
  let i = Math.min(end, (4 - (off & 3)) & 3);
  if (!bytesClean(buf, 0, i, end)) return false;
  const words = (end - i) >> 2;
  if (words > 0) {
    const u = new Uint32Array(buf.buffer, off + i, words);
    for (let w = 0; w < words; w++) {
      const x = u[w];
      const y = x ^ 0x7f7f7f7f;
      if ((((x - 0x20202020) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) {
        const at = i + (w << 2);
        if (!bytesClean(buf, at, at + 4, end)) return false;
      }
    }
    i += words << 2;
  }
  return bytesClean(buf, i, end, end);
}

/** Bytes `from..to` of a head ending at `end` (CR at `end - 1` would be bare). */
function bytesClean(b: Buffer, from: number, to: number, end: number): boolean {
  for (let k = from; k < to; k++) {
    const c = b[k];
    if (c >= 32 && c !== 127) continue;
    if (c === 9) continue;
    if (c === 13) {
      if (k + 1 >= end || b[k + 1] !== 10) return false;
      const n = b[k + 2];
      if (k + 2 < end && (n === 32 || n === 9)) return false; // obs-fold
      continue;
    }
    if (c === 10 && k > 0 && b[k - 1] === 13) continue;
    return false;
  }
  return true;
}
