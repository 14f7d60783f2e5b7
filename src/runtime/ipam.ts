import { MizzenError } from '../lib/errors.ts';

/** An IPv4 CIDR as numbers. */
export interface Cidr {
  base: number;
  prefix: number;
  text: string;
}

export function parseCidr(text: string): Cidr {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(text.trim());
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : -1;
  if (!m || octets.some((o) => o > 255) || prefix < 8 || prefix > 30) {
    throw new MizzenError('USAGE', `invalid IPv4 CIDR ${JSON.stringify(text)}`, { hint: 'use a.b.c.d/n with 8 <= n <= 30' });
  }
  const raw = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (raw & mask) >>> 0, prefix, text: `${formatIpv4((raw & mask) >>> 0)}/${prefix}` };
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseIpv4(text: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const n = parseIpv4(address);
  if (n === undefined) return false;
  const mask = (0xffffffff << (32 - cidr.prefix)) >>> 0;
  return ((n & mask) >>> 0) === cidr.base;
}

/**
 * Address allocation in one CIDR, keyed by owner (pod or service key). The first usable
 * addresses can be reserved (the node's bridge address). Allocation walks forward from the
 * last allocated address so that a freed address is not handed out again at once.
 */
export class AddressPool {
  private readonly cidr: Cidr;
  private readonly size: number;
  private readonly byOwner = new Map<string, number>();
  private readonly used = new Set<number>();
  private next: number;

  constructor(cidr: string, options: { firstOffset?: number } = {}) {
    this.cidr = parseCidr(cidr);
    this.size = 2 ** (32 - this.cidr.prefix);
    this.next = options.firstOffset ?? 1;
  }

  get cidrText(): string {
    return this.cidr.text;
  }

  /** The address at an offset from the network address (1 = first host). */
  addressAt(offset: number): string {
    return formatIpv4((this.cidr.base + offset) >>> 0);
  }

  contains(address: string): boolean {
    return cidrContains(this.cidr, address);
  }

  /** The owner's address, allocating one when it has none (or taking `requested` if free). */
  allocate(owner: string, requested?: string): string {
    const have = this.byOwner.get(owner);
    if (have !== undefined) return formatIpv4(have);
    if (requested !== undefined) {
      const n = parseIpv4(requested);
      if (n === undefined || !this.contains(requested)) {
        throw new MizzenError('CONFIG_INVALID', `address ${requested} is not in ${this.cidr.text}`);
      }
      if (this.used.has(n)) throw new MizzenError('CONFIG_INVALID', `address ${requested} is already allocated`);
      this.take(owner, n);
      return requested;
    }
    for (let i = 0; i < this.size - 2; i++) {
      const offset = this.next + i >= this.size - 1 ? ((this.next + i) % (this.size - 1)) + 1 : this.next + i;
      const n = (this.cidr.base + offset) >>> 0;
      if (this.used.has(n) || offset <= 0) continue;
      this.take(owner, n);
      this.next = offset + 1;
      return formatIpv4(n);
    }
    throw new MizzenError('RUNTIME_FAILED', `address pool ${this.cidr.text} is exhausted`);
  }

  /** Mark an address as not allocatable (owned by `owner`). */
  reserve(owner: string, address: string): void {
    const n = parseIpv4(address);
    if (n !== undefined) this.take(owner, n);
  }

  release(owner: string): void {
    const n = this.byOwner.get(owner);
    if (n === undefined) return;
    this.byOwner.delete(owner);
    this.used.delete(n);
  }

  private take(owner: string, n: number): void {
    this.byOwner.set(owner, n);
    this.used.add(n);
  }
}
