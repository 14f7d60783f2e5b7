import { isIPv4, isIPv6 } from 'node:net';

/** An address as its 4 or 16 bytes (IPv4-mapped IPv6 as IPv4); empty when it is not an address. */
export function ipToBytesOrEmpty(ip: string): Buffer {
  const v = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(v)) return Buffer.from(v.split('.').map(Number));
  if (!isIPv6(v)) return Buffer.alloc(0);
  const [head, tail] = v.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}
