import { isIPv4, isIPv6 } from 'node:net';

/** A compiled CidrRange: `test(ip)`; `prefixLen` lets callers prefer the most specific range. */
export interface Cidr {
  text: string;
  prefixLen: number;
  test(ip: string): boolean;
}

function v4ToBig(ip: string): bigint {
  return ip.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(ip: string): bigint {
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = v4ToBig(v4[1]);
    s = `${s.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** Normalise ::ffff:a.b.c.d to a.b.c.d. */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

export function compileCidr(prefix: string, len: number | undefined): Cidr | undefined {
  const v4 = isIPv4(prefix);
  if (!v4 && !isIPv6(prefix)) return undefined;
  const bits = v4 ? 32 : 128;
  const plen = len ?? bits;
  if (plen < 0 || plen > bits) return undefined;
  const base = v4 ? v4ToBig(prefix) : v6ToBig(prefix);
  const shift = BigInt(bits - plen);
  const want = base >> shift;
  return {
    text: `${prefix}/${plen}`,
    prefixLen: plen,
    test(ipIn: string): boolean {
      const ip = plainIp(ipIn);
      if (v4 ? !isIPv4(ip) : !isIPv6(ip)) return false;
      return (v4 ? v4ToBig(ip) : v6ToBig(ip)) >> shift === want;
    },
  };
}
