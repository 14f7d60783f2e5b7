import type { ConnectionPoolSettings } from '../../../api/istio/connection-pool.ts';
import type { LoadBalancerSettings, LocalityLoadBalancerSetting, OutlierDetection, PortTrafficPolicy, TrafficPolicy } from '../../../api/istio/destination-rule.ts';
import { parseDurationNanos, validateDuration } from './duration.ts';
import { validateFQDN } from './hosts.ts';
import { isValidIP } from './ip-addresses.ts';
import { at, type IssueList } from './issue-list.ts';
import { validatePort } from './ports.ts';
import { validateClientTls } from './tls-settings.ts';

/** DestinationRule traffic policies (also used by Sidecar connection pools). */
function percent(v: number | undefined, path: string, out: IssueList): void {
  if (v !== undefined && (v < 0 || v > 100)) out.error(path, `percentage ${v} is not in range 0..100`);
}

function duration(v: string | undefined, path: string, out: IssueList): void {
  if (v !== undefined) out.check(path, validateDuration(v));
}

export function validateConnectionPool(cp: ConnectionPoolSettings | undefined, path: string, out: IssueList): void {
  if (!cp) return;
  if (!cp.http && !cp.tcp) {
    out.error(path, 'connection pool must have at least one field');
    return;
  }
  const h = cp.http;
  if (h) {
    const p = at(path, 'http');
    if ((h.http1MaxPendingRequests ?? 0) < 0) out.error(p, 'http1 max pending requests must be non-negative');
    if ((h.http2MaxRequests ?? 0) < 0) out.error(p, 'http2 max requests must be non-negative');
    if ((h.maxRequestsPerConnection ?? 0) < 0) out.error(p, 'max requests per connection must be non-negative');
    if ((h.maxRetries ?? 0) < 0) out.error(p, 'max retries must be non-negative');
    duration(h.idleTimeout, at(p, 'idleTimeout'), out);
    if (h.h2UpgradePolicy === 'UPGRADE' && h.useClientProtocol) out.error(p, 'use client protocol must not be true when H2UpgradePolicy is UPGRADE');
    if ((h.maxConcurrentStreams ?? 0) < 0) out.error(p, 'max concurrent streams must be non-negative');
  }
  const t = cp.tcp;
  if (t) {
    const p = at(path, 'tcp');
    if ((t.maxConnections ?? 0) < 0) out.error(p, 'max connections must be non-negative');
    duration(t.connectTimeout, at(p, 'connectTimeout'), out);
    duration(t.maxConnectionDuration, at(p, 'maxConnectionDuration'), out);
    if (t.idleTimeout !== undefined && parseDurationNanos(t.idleTimeout) !== 0) duration(t.idleTimeout, at(p, 'idleTimeout'), out); // 0s disables it
    duration(t.tcpKeepalive?.time, at(p, 'tcpKeepalive.time'), out);
    duration(t.tcpKeepalive?.interval, at(p, 'tcpKeepalive.interval'), out);
  }
}

function validateOutlierDetection(o: OutlierDetection | undefined, path: string, out: IssueList): void {
  if (!o) return;
  duration(o.baseEjectionTime, at(path, 'baseEjectionTime'), out);
  if (o.consecutiveErrors) out.warn(path, 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead');
  if (!o.splitExternalLocalOriginErrors && (o.consecutiveLocalOriginFailures ?? 0) > 0) {
    out.error(path, 'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false');
  }
  duration(o.interval, at(path, 'interval'), out);
  percent(o.maxEjectionPercent, at(path, 'maxEjectionPercent'), out);
  percent(o.minHealthPercent, at(path, 'minHealthPercent'), out);
}

function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f * f <= x; f += 2) if (x % f === 0) return false;
  return true;
}

const TOPOLOGY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);

function validateLocalities(localities: string[]): string | undefined {
  const map = new Map<string, Map<string, Set<string>>>();
  for (const loc of localities) {
    const stars = (loc.match(/\*/g) ?? []).length;
    if (stars > 1 || (stars === 1 && !loc.endsWith('*'))) return `locality ${loc} wildcard '*' number can not exceed 1 and must be in the end`;
    if (map.has('*')) return `locality ${loc} overlap with previous specified ones`;
    const items = loc.split('/', 3).length === 3 ? [loc.split('/')[0], loc.split('/')[1], loc.split('/').slice(2).join('/')] : loc.split('/');
    if (items.some((i) => i === '')) return `locality ${loc} must not contain empty region/zone/subzone info`;
    const [region, zone, sub] = items;
    const overlap = `locality ${loc} overlap with previous specified ones`;
    if (items.length === 1) {
      if (map.has(region)) return overlap;
      map.set(region, new Map([['*', new Set(['*'])]]));
    } else if (items.length === 2) {
      const r = map.get(region);
      if (r) {
        if (r.has('*') || r.has(zone)) return overlap;
        r.set(zone, new Set(['*']));
      } else map.set(region, new Map([[zone, new Set(['*'])]]));
    } else {
      const r = map.get(region);
      if (r) {
        if (r.has('*')) return overlap;
        const z = r.get(zone);
        if (z) {
          if (z.has('*') || z.has(sub)) return overlap;
          z.add(sub);
        } else r.set(zone, new Set([sub]));
      } else map.set(region, new Map([[zone, new Set([sub])]]));
    }
  }
  return undefined;
}

function validateLocalityLb(lb: LocalityLoadBalancerSetting | undefined, outlier: OutlierDetection | undefined, path: string, out: IssueList): void {
  if (!lb) return;
  const distribute = lb.distribute ?? [];
  const failover = lb.failover ?? [];
  const priority = lb.failoverPriority ?? [];
  if (distribute.length > 0 && failover.length > 0) {
    out.error(path, "can not simultaneously specify 'distribute' and 'failover'");
    return;
  }
  if (failover.length > 0 && priority.length > 0) {
    const bad = priority.find((l) => TOPOLOGY_LABELS.has(l));
    if (bad) {
      out.error(path, `can not simultaneously set 'failover' and topology label '${bad}' in 'failover_priority'`);
      return;
    }
  }
  for (const d of distribute) {
    let total = 0;
    for (const w of Object.values(d.to ?? {})) {
      if (w <= 0 || w > 100) {
        out.error(at(path, 'distribute'), 'locality weight must be in range [1, 100]');
        return;
      }
      total += w;
    }
    if (total !== 100) {
      out.error(at(path, 'distribute'), `total locality weight ${total} != 100`);
      return;
    }
    out.check(at(path, 'distribute'), validateLocalities(Object.keys(d.to ?? {})));
  }
  out.check(at(path, 'distribute'), validateLocalities(distribute.map((d) => d.from ?? '')));
  if ((failover.length > 0 || priority.length > 0) && !outlier) out.warn(path, 'outlier detection policy must be provided for failover');
  for (const f of failover) {
    if (f.from === f.to) out.error(at(path, 'failover'), 'locality lb failover settings must specify different regions');
    if (f.from?.includes('/') || f.to?.includes('/')) out.error(at(path, 'failover'), 'locality lb failover only specify region');
    if (f.from?.includes('*') || f.to?.includes('*')) out.error(at(path, 'failover'), "locality lb failover region should not contain '*' wildcard");
  }
}

function validateLoadBalancer(lb: LoadBalancerSettings | undefined, outlier: OutlierDetection | undefined, path: string, out: IssueList): void {
  if (!lb) return;
  const ch = lb.consistentHash;
  if (ch) {
    const p = at(path, 'consistentHash');
    if (ch.httpCookie && !ch.httpCookie.name) out.error(p, 'name required for HttpCookie');
    if (ch.minimumRingSize) out.warn(p, "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead");
    if (ch.minimumRingSize && (ch.ringHash || ch.maglev)) out.error(p, 'only one of MinimumRingSize or Maglev/Ringhash can be specified');
    if (ch.maglev) {
      const size = ch.maglev.tableSize ?? 0;
      if (size === 0) out.error(p, 'tableSize must be set for maglev');
      if (size >= 5000011) out.error(p, 'tableSize must be less than 5000011 for maglev');
      if (!isPrime(size)) out.error(p, 'tableSize must be a prime number for maglev');
    }
  }
  validateLocalityLb(lb.localityLbSetting, outlier, at(path, 'localityLbSetting'), out);
  duration(lb.warmupDurationSecs, at(path, 'warmupDurationSecs'), out);
}

function validatePortTrafficPolicies(namespace: string, list: PortTrafficPolicy[] | undefined, path: string, out: IssueList): void {
  (list ?? []).forEach((t, i) => {
    const p = at(path, i);
    if (!t) {
      out.error(p, 'traffic policy may not be null');
      return;
    }
    if (!t.port) out.error(p, 'portTrafficPolicy must have valid port');
    if (!t.outlierDetection && !t.connectionPool && !t.loadBalancer && !t.tls) {
      out.error(p, 'port traffic policy must have at least one field');
      return;
    }
    validateOutlierDetection(t.outlierDetection, at(p, 'outlierDetection'), out);
    validateConnectionPool(t.connectionPool, at(p, 'connectionPool'), out);
    validateLoadBalancer(t.loadBalancer, t.outlierDetection, at(p, 'loadBalancer'), out);
    validateClientTls(namespace, t.tls, at(p, 'tls'), out);
  });
}

export function validateTrafficPolicy(namespace: string, tp: TrafficPolicy | undefined, path: string, out: IssueList): void {
  if (!tp) return;
  if (!tp.outlierDetection && !tp.connectionPool && !tp.loadBalancer && !tp.tls && !tp.portLevelSettings && !tp.tunnel && !tp.proxyProtocol && !tp.retryBudget) {
    out.error(path, 'traffic policy must have at least one field');
    return;
  }
  if (tp.tunnel && tp.proxyProtocol) {
    out.error(path, 'tunnel and proxyProtocol must not be set together');
    return;
  }
  validateOutlierDetection(tp.outlierDetection, at(path, 'outlierDetection'), out);
  validateConnectionPool(tp.connectionPool, at(path, 'connectionPool'), out);
  validateLoadBalancer(tp.loadBalancer, tp.outlierDetection, at(path, 'loadBalancer'), out);
  validateClientTls(namespace, tp.tls, at(path, 'tls'), out);
  validatePortTrafficPolicies(namespace, tp.portLevelSettings, at(path, 'portLevelSettings'), out);
  const tunnel = tp.tunnel;
  if (tunnel) {
    const p = at(path, 'tunnel');
    if (tunnel.protocol && tunnel.protocol !== 'CONNECT' && tunnel.protocol !== 'POST') out.error(p, 'tunnel protocol must be "CONNECT" or "POST"');
    const host = tunnel.targetHost ?? '';
    const fqdnErr = validateFQDN(host);
    if (fqdnErr && !isValidIP(host)) out.error(p, `tunnel target host must be valid FQDN or IP address: ${fqdnErr}; ${host} is not a valid IP`);
    const portErr = validatePort(tunnel.targetPort ?? 0);
    if (portErr) out.error(p, `tunnel target port is invalid: ${portErr}`);
  }
  if (tp.retryBudget) {
    percent(tp.retryBudget.percent, at(path, 'retryBudget.percent'), out);
    duration(tp.retryBudget.budgetInterval, at(path, 'retryBudget.budgetInterval'), out);
  }
}
