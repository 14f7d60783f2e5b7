/** What the first bytes of a connection say (tls_inspector + http_inspector). */
export interface SniffResult {
  transport: 'tls' | 'raw_buffer';
  /** TLS: ALPN offered by the client; plaintext: ['http/1.1'] / ['h2c'] when HTTP was detected. */
  applicationProtocols: string[];
  serverName: string;
  /** Need more bytes to decide. */
  incomplete: boolean;
}

const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** Inspect the first bytes of a connection. */
export function sniff(buf: Buffer): SniffResult {
  if (buf.length === 0) return { transport: 'raw_buffer', applicationProtocols: [], serverName: '', incomplete: true };
  if (buf[0] === 0x16) return parseClientHello(buf);
  // http_inspector
  const s = buf.toString('latin1', 0, Math.min(buf.length, 24));
  if (H2_PREFACE.startsWith(s) && s.length < H2_PREFACE.length) return { transport: 'raw_buffer', applicationProtocols: [], serverName: '', incomplete: true };
  if (s.startsWith(H2_PREFACE.slice(0, 24))) return { transport: 'raw_buffer', applicationProtocols: ['h2c'], serverName: '', incomplete: false };
  const sp = s.indexOf(' ');
  const word = sp < 0 ? s : s.slice(0, sp);
  if (sp > 0 && METHODS.includes(word)) {
    const crlf = buf.indexOf('\r\n');
    if (crlf < 0 && buf.length < 4096) return { transport: 'raw_buffer', applicationProtocols: [], serverName: '', incomplete: true };
    const line = buf.toString('latin1', 0, crlf < 0 ? buf.length : crlf);
    if (/ HTTP\/1\.[01]$/.test(line)) return { transport: 'raw_buffer', applicationProtocols: ['http/1.1'], serverName: '', incomplete: false };
  } else if (sp < 0 && METHODS.some((m) => m.startsWith(word)) && buf.length < 16) {
    return { transport: 'raw_buffer', applicationProtocols: [], serverName: '', incomplete: true };
  }
  return { transport: 'raw_buffer', applicationProtocols: [], serverName: '', incomplete: false };
}

/** Parse a TLS ClientHello record for SNI and ALPN (what Envoy's tls_inspector extracts). */
function parseClientHello(buf: Buffer): SniffResult {
  const out: SniffResult = { transport: 'tls', applicationProtocols: [], serverName: '', incomplete: false };
  if (buf.length < 5) return { ...out, incomplete: true };
  const recLen = buf.readUInt16BE(3);
  if (buf.length < 5 + recLen) return { ...out, incomplete: recLen < 16384 };
  let p = 5;
  if (buf[p] !== 0x01) return out; // not a ClientHello
  p += 4; // handshake type + length
  p += 2 + 32; // version + random
  if (p >= buf.length) return out;
  p += 1 + buf[p]; // session id
  if (p + 2 > buf.length) return out;
  p += 2 + buf.readUInt16BE(p); // cipher suites
  if (p >= buf.length) return out;
  p += 1 + buf[p]; // compression
  if (p + 2 > buf.length) return out;
  const extEnd = Math.min(buf.length, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    const body = p + 4;
    if (type === 0 && len >= 5) {
      const nameLen = buf.readUInt16BE(body + 3);
      out.serverName = buf.toString('latin1', body + 5, body + 5 + nameLen);
    } else if (type === 16 && len >= 2) {
      let q = body + 2;
      const end = body + len;
      while (q < end) {
        const l = buf[q];
        out.applicationProtocols.push(buf.toString('latin1', q + 1, q + 1 + l));
        q += 1 + l;
      }
    }
    p = body + len;
  }
  return out;
}
