import type { Service } from '../registry/service.ts';

/**
 * Istio's automatic VIPs for ServiceEntry hosts without addresses (pilot's auto_allocation.go,
 * the deterministic variant): hosts that are not wildcards and not resolution NONE
 * (PASSTHROUGH) get an address from the reserved 240.240.0.0/16 (and 2001:2::/48), by an FNV-1a
 * hash of `namespace/hostname` with double hashing on collisions, so every control plane
 * computes the same ones. Opt out with the label `networking.istio.io/enable-autoallocate-ip:
 * "false"`. ztunnel's DNS proxy answers these names with them, and its outbound then knows the
 * service from the VIP.
 */
const MAX_IPS = 256 * 254;
const PRIME = 65011;
const OPT_OUT_LABEL = 'networking.istio.io/enable-autoallocate-ip';

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** `namespace/hostname` → [IPv4, IPv6] for the services that get one. */
export function autoAllocatedVips(services: readonly Service[]): Map<string, [string, string]> {
  const slots: (string | undefined)[] = new Array(MAX_IPS);
  let used = 0;
  for (const s of services) {
    if (s.registry !== 'ServiceEntry' || s.addresses.length > 0 || s.hostname.startsWith('*') || s.resolution === 'PASSTHROUGH' || s.resolution === 'NONE') continue;
    if ((s.labels[OPT_OUT_LABEL] ?? '').toLowerCase() === 'false') continue;
    if (used >= MAX_IPS) break;
    const key = `${s.namespace}/${s.hostname}`;
    if (slots.includes(key)) continue;
    const h = fnv1a(key);
    const first = h % MAX_IPS;
    if (slots[first] === undefined) slots[first] = key;
    else {
      const second = PRIME - (h % PRIME);
      for (let i = 1; ; i++) {
        const nh = ((h + Math.imul(i, second)) >>> 0) % (MAX_IPS - 1);
        if (slots[nh] === undefined) {
          slots[nh] = key;
          break;
        }
      }
    }
    used++;
  }
  const out = new Map<string, [string, string]>();
  let x = 0;
  for (const key of slots) {
    x++;
    if (key === undefined) continue;
    if (x % 255 === 0) x++;
    const a = Math.floor(x / 255);
    const b = x % 255;
    out.set(key, [`240.240.${a}.${b}`, a === 0 ? `2001:2::f0f0:${b.toString(16)}` : `2001:2::f0f0:${a.toString(16)}${b.toString(16)}`]);
  }
  return out;
}
