import type { LocalityLoadBalancerSetting } from '../../api/istio/destination-rule.ts';
import type { Endpoint, Locality } from '../registry/service.ts';
import { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from '../registry/workload-labels.ts';

/** One ClusterLoadAssignment.endpoints entry before it is written out: its locality, endpoints, priority, weight. */
export interface LocalityGroup {
  locality: Locality;
  endpoints: Endpoint[];
  /** Sum of the endpoints' weights unless a rule sets it. */
  weight: number;
  priority: number;
}

/**
 * The locality load-balancing setting that applies, as istiod's getLocalityLbSetting: on unless
 * the mesh disables it; a DestinationRule's setting replaces the mesh's (and `enabled: false`
 * there turns it off); undefined when off.
 */
export function effectiveLocalityLb(mesh: LocalityLoadBalancerSetting | undefined, rule: LocalityLoadBalancerSetting | undefined): LocalityLoadBalancerSetting | undefined {
  let enabled = mesh !== undefined && mesh.enabled !== false;
  if (rule) enabled = rule.enabled !== false;
  if (!enabled) return undefined;
  return rule ?? mesh;
}

/**
 * Whether the cluster gets Envoy's locality-weighted load balancing (common_lb_config
 * locality_weighted_lb_config), as istiod: with `distribute`, or with explicit failover rules
 * that outlier detection can act on.
 */
export function wantsLocalityWeights(setting: LocalityLoadBalancerSetting | undefined, outlierDetection: boolean): boolean {
  if (!setting) return false;
  if (setting.distribute && setting.distribute.length > 0) return true;
  return outlierDetection && ((setting.failover?.length ?? 0) > 0 || (setting.failoverPriority?.length ?? 0) > 0);
}

/**
 * istiod's ApplyLocalityLoadBalancer for one proxy: `distribute` rewrites locality weights
 * (localities the matching rule does not name get no endpoints); otherwise, only when outlier
 * detection is configured (without it Envoy never fails over), priorities by closeness to the
 * proxy's locality (0 same subzone, 1 same zone, 2 same region, 3 other regions, 4 regions a
 * `failover` rule leaves out), after `failoverPriority` label tiers when given; priorities are
 * then renumbered without gaps.
 */
export function applyLocalityLb(groups: readonly LocalityGroup[], proxy: Locality, proxyLabels: Readonly<Record<string, string>>, setting: LocalityLoadBalancerSetting | undefined, outlierDetection: boolean): LocalityGroup[] {
  if (!setting) return [...groups];
  if (setting.distribute && setting.distribute.length > 0) return distribute(groups, proxy, setting.distribute);
  if (!outlierDetection || setting.enabled === false) return [...groups];
  let out = groups.map((g) => ({ ...g }));
  if (setting.failoverPriority && setting.failoverPriority.length > 0) {
    out = failoverPriorities(out, proxyLabels, setting.failoverPriority);
    if (setting.failover && setting.failover.length > 0) out = localityFailover(out, proxy, setting.failover);
    return out;
  }
  return localityFailover(out, proxy, setting.failover ?? []);
}

/** 0 same region/zone/subzone, 1 same region/zone, 2 same region, 3 otherwise (istiod's LbPriority). */
function closeness(proxy: Locality, ep: Locality): number {
  if ((proxy.region ?? '') !== (ep.region ?? '')) return 3;
  if ((proxy.zone ?? '') !== (ep.zone ?? '')) return 2;
  if ((proxy.subzone ?? '') !== (ep.subzone ?? '')) return 1;
  return 0;
}

function localityFailover(groups: LocalityGroup[], proxy: Locality, failover: readonly { from?: string; to?: string }[]): LocalityGroup[] {
  for (const g of groups) {
    let p = closeness(proxy, g.locality);
    if (p === 3) {
      const rule = failover.find((f) => f.from === (proxy.region ?? ''));
      if (rule && (g.locality.region ?? '') !== rule.to) p = 4;
    }
    // tiers from failoverPriority stay first: five locality levels fit within each
    g.priority = g.priority * 5 + p;
  }
  return compact(groups);
}

/** Priorities renumbered 0..N-1 in order, without gaps (Envoy needs contiguous priorities). */
function compact(groups: LocalityGroup[]): LocalityGroup[] {
  const levels = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  const index = new Map(levels.map((p, i) => [p, i]));
  for (const g of groups) g.priority = index.get(g.priority)!;
  return groups;
}

/** `region/zone/subzone` rule (each part may be `*` or missing) against a locality. */
function localityMatches(l: Locality, rule: string): boolean {
  const [r = '', z = '', s = ''] = rule.split('/');
  const m = (have: string | undefined, want: string): boolean => want === '' || want === '*' || (have ?? '') === want;
  return m(l.region, r) && m(l.zone, z) && m(l.subzone, s);
}

function distribute(groups: readonly LocalityGroup[], proxy: Locality, rules: readonly { from?: string; to?: Record<string, number> }[]): LocalityGroup[] {
  const rule = rules.find((d) => localityMatches(proxy, d.from ?? ''));
  const out = groups.map((g) => ({ ...g }));
  if (!rule) return out;
  const unmatched = new Set(out.map((_, i) => i));
  for (const [to, weight] of Object.entries(rule.to ?? {})) {
    const dest = new Map<number, number>();
    let total = 0;
    for (const i of unmatched) {
      if (!localityMatches(out[i].locality, to)) continue;
      dest.set(i, out[i].weight || 1);
      total += out[i].weight || 1;
    }
    for (const i of dest.keys()) unmatched.delete(i);
    // a wildcard naming several localities shares its weight in proportion to theirs
    for (const [i, original] of dest) {
      const w = (original * weight) / total;
      if (w > 0) out[i].weight = Math.ceil(w);
    }
  }
  for (const i of unmatched) out[i].endpoints = [];
  return out;
}

/**
 * Locality topology labels Istio adds to proxies' and endpoints' labels (AugmentLabels), so
 * failoverPriority can name them.
 */
export function withLocalityLabels(labels: Readonly<Record<string, string>>, l: Locality | undefined): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  if (l?.region && out[REGION_LABEL] === undefined) out[REGION_LABEL] = l.region;
  if (l?.zone && out[ZONE_LABEL] === undefined) out[ZONE_LABEL] = l.zone;
  if (l?.subzone && out[SUBZONE_LABEL] === undefined) out[SUBZONE_LABEL] = l.subzone;
  return out;
}

/**
 * failoverPriority: each locality's endpoints split into tiers by how many of the listed labels
 * (in order; `label=value` compares with that value instead of the proxy's) they share with the
 * proxy: all of them → 0, a mismatch at the j-th label → N - j.
 */
function failoverPriorities(groups: LocalityGroup[], proxyLabels: Readonly<Record<string, string>>, priorities: readonly string[]): LocalityGroup[] {
  if (Object.keys(proxyLabels).length === 0) return groups;
  const rules = priorities.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? { label: p, value: undefined } : { label: p.slice(0, eq), value: p.slice(eq + 1) };
  });
  const out: LocalityGroup[] = [];
  for (const g of groups) {
    const tiers = new Map<number, Endpoint[]>();
    for (const e of g.endpoints) {
      const labels = withLocalityLabels(e.labels, e.locality);
      let tier = 0;
      for (let j = 0; j < rules.length; j++) {
        const want = rules[j].value ?? proxyLabels[rules[j].label];
        if (want !== labels[rules[j].label]) {
          tier = rules.length - j;
          break;
        }
      }
      const list = tiers.get(tier) ?? [];
      list.push(e);
      tiers.set(tier, list);
    }
    for (const tier of [...tiers.keys()].sort((a, b) => a - b)) {
      const eps = tiers.get(tier)!;
      out.push({ locality: g.locality, endpoints: eps, weight: eps.reduce((s, e) => s + (e.weight ?? 1), 0), priority: tier });
    }
  }
  return compact(out);
}
