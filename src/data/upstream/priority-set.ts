import type { Host } from './host.ts';
import type { LoadBalancer } from './load-balancer.ts';

/** Hosts one pick chooses among, with the load balancer that keeps its state (RR index, ring). */
interface HostSet {
  hosts: Host[];
  lb: LoadBalancer | undefined;
}

interface Locality {
  set: HostSet;
  /** Locality weight × its availability (Envoy's effective locality weight). */
  weight: number;
  /** Smooth weighted round robin state. */
  current: number;
}

interface Level {
  /** Share of requests (0..100) this priority takes. */
  load: number;
  all: HostSet;
  /** With locality-weighted load balancing: the localities with an effective weight. */
  localities: Locality[] | undefined;
}

export interface PrioritySetOptions {
  /** ClusterLoadAssignment.policy.overprovisioning_factor / 100 (Envoy: 1.4). */
  overprovisioning: number;
  /** common_lb_config.healthy_panic_threshold (0..1; 0 disables panic mode). */
  panicThreshold: number;
  /** common_lb_config.locality_weighted_lb_config is set. */
  localityWeighted: boolean;
}

/**
 * Envoy's priority levels and locality weights over a cluster's hosts at one moment: each
 * priority's health is its available share × the overprovisioning factor (capped at 100 %);
 * priority 0 takes its health as load, the next ones what is left, in order (scaled up when the
 * total health is under 100 %), so traffic spills to farther localities only as the near ones
 * lose hosts (outlier ejections). Within a priority, with locality-weighted load balancing, a
 * locality is chosen by weight × availability (smooth weighted round robin), then a host.
 */
export class PrioritySet {
  private readonly levels: Level[];

  constructor(hosts: readonly Host[], now: number, o: PrioritySetOptions) {
    const byPriority = new Map<number, Host[]>();
    for (const h of hosts) {
      const list = byPriority.get(h.priority);
      if (list) list.push(h);
      else byPriority.set(h.priority, [h]);
    }
    const priorities = [...byPriority.keys()].sort((a, b) => a - b);
    const health = priorities.map((p) => {
      const members = byPriority.get(p)!;
      const ok = members.reduce((n, h) => n + (h.available(now) ? 1 : 0), 0);
      return Math.min(100, (100 * o.overprovisioning * ok) / members.length);
    });
    const total = Math.min(100, health.reduce((a, b) => a + b, 0));
    let left = 100;
    this.levels = priorities.map((p, i) => {
      const members = byPriority.get(p)!;
      // nothing healthy anywhere: priority 0 takes it all (panic mode decides what is left there)
      const load = total === 0 ? (i === 0 ? 100 : 0) : Math.min(left, (health[i] * 100) / total);
      left -= load;
      const available = members.filter((h) => h.available(now));
      const panic = members.length > 0 && available.length / members.length < o.panicThreshold;
      const usable = panic ? members : available;
      return { load, all: { hosts: usable, lb: undefined }, localities: o.localityWeighted ? localities(members, usable, now, o) : undefined };
    });
  }

  /** The only host set when there is one priority and no locality weighting (the common case). */
  get single(): Host[] | undefined {
    return this.levels.length === 1 && !this.levels[0].localities ? this.levels[0].all.hosts : this.levels.length === 0 ? [] : undefined;
  }

  /** Choose the priority (by `hash` when given, so a key stays put) and then the locality's hosts. */
  choose(hash: number | undefined, make: () => LoadBalancer): { hosts: Host[]; lb: LoadBalancer } | undefined {
    if (this.levels.length === 0) return undefined;
    const roll = hash !== undefined ? hash % 100 : Math.random() * 100;
    let level = this.levels[this.levels.length - 1];
    let acc = 0;
    for (const l of this.levels) {
      acc += l.load;
      if (l.load > 0 && roll < acc) {
        level = l;
        break;
      }
    }
    let set = level.all;
    if (level.localities && level.localities.length > 0) set = nextLocality(level.localities).set;
    set.lb ??= make();
    return { hosts: set.hosts, lb: set.lb };
  }
}

function localities(members: readonly Host[], usable: readonly Host[], now: number, o: PrioritySetOptions): Locality[] {
  const groups = new Map<string, Host[]>();
  for (const h of members) {
    const g = groups.get(h.locality);
    if (g) g.push(h);
    else groups.set(h.locality, [h]);
  }
  const inUse = new Set(usable);
  const out: Locality[] = [];
  for (const hs of groups.values()) {
    const ok = hs.filter((h) => h.available(now)).length;
    const availability = Math.min(1, (o.overprovisioning * ok) / hs.length);
    const weight = hs[0].localityWeight * availability;
    const hosts = hs.filter((h) => inUse.has(h));
    if (weight > 0 && hosts.length > 0) out.push({ set: { hosts, lb: undefined }, weight, current: 0 });
  }
  return out;
}

function nextLocality(ls: Locality[]): Locality {
  let total = 0;
  let best = ls[0];
  for (const l of ls) {
    l.current += l.weight;
    total += l.weight;
    if (l.current > best.current) best = l;
  }
  best.current -= total;
  return best;
}
