import type { LbPolicy } from './cluster-config.ts';
import type { Host } from './host.ts';

/** Picks a host among the usable ones; `hash` is set for hash-based policies when the route has one. */
export interface LoadBalancer {
  pick(hosts: readonly Host[], hash: number | undefined, avoid: Host | undefined): Host | undefined;
}

class RoundRobin implements LoadBalancer {
  private next = 0;

  pick(hosts: readonly Host[], _hash: number | undefined, avoid: Host | undefined): Host | undefined {
    const n = hosts.length;
    if (n === 0) return undefined;
    // smooth-ish weighted round robin: walk a virtual list where each host appears `weight` times
    let total = 0;
    for (const h of hosts) total += h.weight;
    for (let tries = 0; tries < 2; tries++) {
      let idx = this.next++ % total;
      for (const h of hosts) {
        if (idx < h.weight) {
          if (h === avoid && n > 1 && tries === 0) break;
          return h;
        }
        idx -= h.weight;
      }
    }
    return hosts[this.next % n];
  }
}

class Random implements LoadBalancer {
  pick(hosts: readonly Host[], _hash: number | undefined, avoid: Host | undefined): Host | undefined {
    if (hosts.length === 0) return undefined;
    let total = 0;
    for (const h of hosts) total += h.weight;
    for (let tries = 0; tries < 3; tries++) {
      let r = Math.random() * total;
      for (const h of hosts) {
        r -= h.weight;
        if (r < 0) {
          if (h === avoid && hosts.length > 1 && tries < 2) break;
          return h;
        }
      }
    }
    return hosts[0];
  }
}

/** Power of two choices (choice_count) on active requests, as Envoy's LEAST_REQUEST. */
class LeastRequest implements LoadBalancer {
  private readonly choices: number;

  constructor(choices: number) {
    this.choices = Math.max(2, choices);
  }

  pick(hosts: readonly Host[], _hash: number | undefined, avoid: Host | undefined): Host | undefined {
    const n = hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return hosts[0];
    let best: Host | undefined;
    for (let i = 0; i < this.choices; i++) {
      const h = hosts[(Math.random() * n) | 0];
      if (h === avoid) continue;
      if (!best || h.activeRequests / h.weight < best.activeRequests / best.weight) best = h;
    }
    return best ?? hosts[0];
  }
}

/** FNV-1a 32-bit, enough to spread keys over the ring. */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // finalise (murmur3 fmix32) for better high bits
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Consistent hashing ring (RING_HASH / MAGLEV): the same key goes to the same host while it is up. */
class RingHash implements LoadBalancer {
  private readonly minSize: number;
  private ring: { hash: number; host: Host }[] = [];
  private builtFor: readonly Host[] | undefined;
  private fallback = new RoundRobin();

  constructor(minSize: number) {
    this.minSize = minSize;
  }

  private build(hosts: readonly Host[]): void {
    const total = hosts.reduce((s, h) => s + h.weight, 0);
    const perWeight = Math.max(1, Math.ceil(this.minSize / Math.max(1, total)));
    const ring: { hash: number; host: Host }[] = [];
    for (const h of hosts) for (let i = 0; i < perWeight * h.weight; i++) ring.push({ hash: hashKey(`${h.key}_${i}`), host: h });
    ring.sort((a, b) => a.hash - b.hash);
    this.ring = ring;
    this.builtFor = hosts;
  }

  pick(hosts: readonly Host[], hash: number | undefined, avoid: Host | undefined): Host | undefined {
    if (hosts.length === 0) return undefined;
    if (hash === undefined) return this.fallback.pick(hosts, undefined, avoid);
    if (this.builtFor !== hosts) this.build(hosts);
    const ring = this.ring;
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid].hash < hash) lo = mid + 1;
      else hi = mid;
    }
    return ring[lo % ring.length].host;
  }
}

export function createLoadBalancer(policy: LbPolicy, opts: { ringSize: number; choiceCount: number }): LoadBalancer {
  switch (policy) {
    case 'LEAST_REQUEST': return new LeastRequest(opts.choiceCount);
    case 'RANDOM': return new Random();
    case 'RING_HASH':
    case 'MAGLEV': return new RingHash(opts.ringSize);
    default: return new RoundRobin();
  }
}
