/**
 * The data of a chunked HTTP/1.1 body (size lines, data, CRLFs, trailers), from the raw bytes
 * received so far: complete chunks only, extensions ignored. For the few places that need a
 * body's content rather than relaying its bytes (ext_authz checks).
 */
export function dechunk(raw: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < raw.length) {
    const eol = raw.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(raw.toString('latin1', i, eol).split(';')[0], 16);
    if (!Number.isFinite(size) || size === 0 || eol + 2 + size > raw.length) {
      if (Number.isFinite(size) && size > 0) out.push(raw.subarray(eol + 2));
      break;
    }
    out.push(raw.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
