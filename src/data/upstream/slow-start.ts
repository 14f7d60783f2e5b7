import { asObj, durationMs } from '../xds-client/proto-values.ts';
import { onlyFields } from '../xds-client/resource-rejection.ts';
import type { Host } from './host.ts';

/** round_robin_lb_config / least_request_lb_config `slow_start_config`. */
export interface SlowStartConfig {
  windowMs: number;
  aggression: number;
  /** min_weight_percent as a fraction (Envoy's default 10 %). */
  minWeight: number;
}

export function compileSlowStart(lbConfig: unknown, path: string): SlowStartConfig | undefined {
  const v = asObj(lbConfig).slowStartConfig;
  if (v === undefined) return undefined;
  const o = asObj(v);
  onlyFields(o, `${path}.slowStartConfig`, ['slowStartWindow', 'aggression', 'minWeightPercent']);
  const windowMs = durationMs(o.slowStartWindow) ?? 0;
  if (windowMs <= 0) return undefined;
  const a = asObj(o.aggression).defaultValue;
  const min = asObj(o.minWeightPercent).value;
  return { windowMs, aggression: typeof a === 'number' && a > 0 ? a : 1, minWeight: (typeof min === 'number' ? min : 10) / 100 };
}

/**
 * Envoy's slow start factor of a host at `now`: 1 once it has been in the cluster for the window,
 * else max(min_weight_percent, time_factor^(1/aggression)) with time_factor =
 * max(seconds since it joined, 1) / window seconds.
 */
export function slowStartFactor(c: SlowStartConfig, host: Host, now: number): number {
  const age = now - host.addedAt;
  if (age >= c.windowMs) return 1;
  return Math.max(c.minWeight, (Math.max(age, 1000) / c.windowMs) ** (1 / c.aggression));
}

/**
 * While a host is in its slow start window, a pick by weight × factor (least request: divided by
 * active requests + 1, as Envoy's weighted least request); undefined when no host is warming up
 * (the cluster's load balancer picks as usual).
 */
export function pickWarmingUp(c: SlowStartConfig, hosts: readonly Host[], now: number, leastRequest: boolean, avoid: Host | undefined): Host | undefined {
  let warming = false;
  for (const h of hosts) if (now - h.addedAt < c.windowMs) { warming = true; break; }
  if (!warming || hosts.length === 0) return undefined;
  const candidates = hosts.length > 1 && avoid ? hosts.filter((h) => h !== avoid) : hosts;
  const weights = candidates.map((h) => (h.weight * slowStartFactor(c, h, now)) / (leastRequest ? h.activeRequests + 1 : 1));
  let r = Math.random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < candidates.length; i++) {
    r -= weights[i]!;
    if (r < 0) return candidates[i];
  }
  return candidates[candidates.length - 1];
}
