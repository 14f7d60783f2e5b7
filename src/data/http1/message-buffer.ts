/**
 * One Buffer holding an HTTP/1.1 message head (latin1, as parsed) followed by body bytes, so a
 * head and the body that arrived with it leave in one `socket.write` (one syscall, one TLS
 * record) without corking the socket: corked writes go through the stream's buffer list and a
 * `writev` that flattens and copies the strings again, which costs more than this one copy.
 * Small messages come from Node's shared Buffer pool.
 */
export function messageBuffer(head: string, body: readonly (Buffer | string)[] | Buffer | string | undefined): Buffer {
  const headLen = head.length;
  let bodyLen = 0;
  if (body === undefined) bodyLen = 0;
  else if (typeof body === 'string') bodyLen = Buffer.byteLength(body);
  else if (Buffer.isBuffer(body)) bodyLen = body.length;
  else for (const b of body) bodyLen += typeof b === 'string' ? Buffer.byteLength(b) : b.length;
  const out = Buffer.allocUnsafe(headLen + bodyLen);
  out.write(head, 0, headLen, 'latin1');
  if (body === undefined) return out;
  if (typeof body === 'string') out.write(body, headLen, 'utf8');
  else if (Buffer.isBuffer(body)) body.copy(out, headLen);
  else {
    let at = headLen;
    for (const b of body) at += typeof b === 'string' ? out.write(b, at, 'utf8') : b.copy(out, at);
  }
  return out;
}
