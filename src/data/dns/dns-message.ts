import { isIPv4 } from 'node:net';

/**
 * The DNS wire format (RFC 1035) as a DNS proxy needs it: read a query's header and first
 * question, and build answers (A, AAAA, CNAME), empty authoritative answers, NXDOMAIN and
 * SERVFAIL. Names are compared lower-cased without the trailing dot.
 */
export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE_OK = 0;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;

export interface DnsQuery {
  id: number;
  flags: number;
  name: string;
  type: number;
  qclass: number;
  /** Bytes of the question section (copied into the answer). */
  question: Buffer;
}

/** Parse a query; undefined when it is not a well-formed single-question query. */
export function parseQuery(msg: Buffer): DnsQuery | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response
  if (msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if (len & 0xc0) return undefined; // no compression in a question
    if (off + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  const type = msg.readUInt16BE(off);
  const qclass = msg.readUInt16BE(off + 2);
  return { id: msg.readUInt16BE(0), flags, name: labels.join('.').toLowerCase(), type, qclass, question: msg.subarray(12, off + 4) };
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  const out: Buffer[] = [];
  for (const p of parts) out.push(Buffer.from([p.length]), Buffer.from(p, 'latin1'));
  out.push(Buffer.from([0]));
  return Buffer.concat(out);
}

export interface DnsAnswer {
  name: string;
  type: number;
  ttl: number;
  /** IP text for A/AAAA, a name for CNAME. */
  data: string;
}

function rdata(a: DnsAnswer): Buffer {
  if (a.type === TYPE_CNAME) return encodeName(a.data);
  if (a.type === TYPE_A && isIPv4(a.data)) return Buffer.from(a.data.split('.').map(Number));
  const [head, tail] = a.data.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return b;
}

/** A response to `q`: authoritative, recursion available, with these answers and rcode. */
export function buildResponse(q: DnsQuery, answers: readonly DnsAnswer[], rcode = RCODE_OK): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR=1, opcode from the query, AA=1, RD from the query, RA=1
  const flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [header, q.question];
  for (const a of answers) {
    const d = rdata(a);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(a.type, 0);
    fixed.writeUInt16BE(CLASS_IN, 2);
    fixed.writeUInt32BE(a.ttl, 4);
    fixed.writeUInt16BE(d.length, 8);
    parts.push(encodeName(a.name), fixed, d);
  }
  return Buffer.concat(parts);
}

/** A bare query (tests, and forwarding checks). */
export function buildQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

/** Answers of a response (A/AAAA/CNAME), for tests and logs. */
export function parseAnswers(msg: Buffer): { rcode: number; answers: DnsAnswer[] } {
  const rcode = msg.readUInt16BE(2) & 0xf;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  const readName = (start: number): { name: string; next: number } => {
    const labels: string[] = [];
    let o = start;
    let next = -1;
    for (let guard = 0; guard < 128; guard++) {
      const len = msg[o]!;
      if (len === 0) {
        o++;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (next < 0) next = o + 2;
        o = ((len & 0x3f) << 8) | msg[o + 1]!;
        continue;
      }
      labels.push(msg.toString('latin1', o + 1, o + 1 + len));
      o += 1 + len;
    }
    return { name: labels.join('.'), next: next >= 0 ? next : o };
  };
  for (let i = 0; i < qd; i++) off = readName(off).next + 4;
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < an; i++) {
    const { name, next } = readName(off);
    const type = msg.readUInt16BE(next);
    const ttl = msg.readUInt32BE(next + 4);
    const len = msg.readUInt16BE(next + 8);
    const d = msg.subarray(next + 10, next + 10 + len);
    let data = '';
    if (type === TYPE_A) data = [...d].join('.');
    else if (type === TYPE_AAAA) data = Array.from({ length: 8 }, (_, j) => d.readUInt16BE(j * 2).toString(16)).join(':');
    else if (type === TYPE_CNAME) data = readName(next + 10).name;
    answers.push({ name, type, ttl, data });
    off = next + 10 + len;
  }
  return { rcode, answers };
}
