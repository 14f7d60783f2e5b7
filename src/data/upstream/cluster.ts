import type { Clock } from '../../lib/clock.ts';
import type { TlsSpec } from '../tls/tls-context-config.ts';
import type { ClusterConfig } from './cluster-config.ts';
import type { EndpointSpec } from './endpoint-config.ts';
import { Host } from './host.ts';
import { Http1Pool } from './http1-pool.ts';
import { createLoadBalancer, type LoadBalancer } from './load-balancer.ts';
import { OutlierDetector } from './outlier-detector.ts';
import { PrioritySet } from './priority-set.ts';
import { pickWarmingUp } from './slow-start.ts';
import type { UpstreamConnector } from './upstream-connector.ts';
import type { ProxyAddress, ProxyHeaderSpec } from './proxy-protocol-header.ts';

/** Live circuit-breaker counters of a cluster (limits are in config.limits). */
export interface BreakerState {
  connections: number;
  pending: number;
  requests: number;
  retries: number;
}

export interface ClusterStats {
  rqTotal: number;
  rq2xx: number;
  rq3xx: number;
  rq4xx: number;
  rq5xx: number;
  rqTimeout: number;
  rqRetry: number;
  rqRetryOverflow: number;
  rqPendingOverflow: number;
  rqOverflow: number;
  cxTotal: number;
  cxConnectFail: number;
  cxOverflow: number;
  outlierEjections: number;
  noHealthyHost: number;
  /** upstream_rq_completed: requests charged a response code (upstream's or an upstream abort's). */
  rqCompleted: number;
  /** upstream_rq_<code> (Envoy's specific response code counters). */
  rqCodes: Map<number, number>;
}

/** ORIGINAL_DST clusters keep at most this many destination hosts (oldest evicted first). */
const MAX_ORIGINAL_DESTINATION_HOSTS = 1024;

/**
 * A live cluster: its hosts (from EDS, static config or original destinations), load balancer,
 * circuit-breaker counters, outlier detection and per-host connection pools.
 */
export class Cluster {
  config: ClusterConfig;
  /** Opens this cluster's upstream sockets (bound to the config's upstream_bind_config source). */
  connector: UpstreamConnector;
  private readonly baseConnector: UpstreamConnector;
  private readonly clock: Clock;
  hosts: Host[] = [];
  /** `hosts` by key (`ip:port` / `[ip6]:port`): ORIGINAL_DST finds a destination's host in O(1). */
  private byKey = new Map<string, Host>();
  private priorities: PrioritySet | undefined;
  /** The one host set when there is a single priority without locality weights (fast path). */
  private usable: Host[] | undefined = [];
  private usableStale = true;
  /** ClusterLoadAssignment overprovisioning factor (Envoy's default 1.4). */
  private overprovisioning = 1.4;
  private nextUnejectAt = Infinity;
  private lb: LoadBalancer;
  /** Envoy's outlier detector when the cluster has outlier_detection. */
  outlierDetector: OutlierDetector | undefined;
  readonly breaker: BreakerState = { connections: 0, pending: 0, requests: 0, retries: 0 };
  readonly stats: ClusterStats = {
    rqTotal: 0, rq2xx: 0, rq3xx: 0, rq4xx: 0, rq5xx: 0, rqTimeout: 0, rqRetry: 0, rqRetryOverflow: 0,
    rqPendingOverflow: 0, rqOverflow: 0, cxTotal: 0, cxConnectFail: 0, cxOverflow: 0, outlierEjections: 0, noHealthyHost: 0,
    rqCompleted: 0, rqCodes: new Map(),
  };
  /** Whether endpoints have been delivered (EDS clusters warm until then). */
  warmed: boolean;
  versionInfo = '';
  lastUpdated = new Date().toISOString();

  constructor(config: ClusterConfig, connector: UpstreamConnector, clock: Clock) {
    this.config = config;
    this.baseConnector = connector;
    this.connector = connector.withBind(config.bind);
    this.clock = clock;
    this.lb = createLoadBalancer(config.lbPolicy, config);
    // EDS clusters warm with their first assignment, DNS clusters with their first resolution
    this.warmed = config.type === 'STATIC' || config.type === 'ORIGINAL_DST';
    if (config.staticEndpoints && config.type === 'STATIC') this.setEndpoints(config.staticEndpoints);
    this.configureOutlierDetection();
  }

  private configureOutlierDetection(): void {
    const od = this.config.outlier;
    if (!od) {
      this.outlierDetector?.close();
      this.outlierDetector = undefined;
    } else if (this.outlierDetector) this.outlierDetector.reconfigure(od);
    else {
      const cluster = this;
      this.outlierDetector = new OutlierDetector(od, this.clock, {
        // the live host list (setEndpoints replaces it)
        get hosts() { return cluster.hosts; },
        ejected() {
          cluster.stats.outlierEjections++;
          cluster.usableStale = true;
        },
      });
    }
  }

  /** Take a new config for the same cluster name, keeping hosts, pools and counters. */
  reconfigure(config: ClusterConfig): void {
    const tlsChanged = JSON.stringify(config.raw.transportSocket) !== JSON.stringify(this.config.raw.transportSocket)
      || JSON.stringify(config.raw.transportSocketMatches) !== JSON.stringify(this.config.raw.transportSocketMatches);
    const bindChanged = JSON.stringify(config.bind) !== JSON.stringify(this.config.bind);
    this.config = config;
    this.lb = createLoadBalancer(config.lbPolicy, config);
    if (bindChanged) this.connector = this.baseConnector.withBind(config.bind);
    if (tlsChanged || bindChanged) for (const h of this.hosts) { h.pool?.drain(); h.pool = undefined; }
    if (config.staticEndpoints && config.type === 'STATIC') this.setEndpoints(config.staticEndpoints);
    this.configureOutlierDetection();
    this.usableStale = true;
  }

  setEndpoints(endpoints: readonly EndpointSpec[], overprovisioning = 1.4): void {
    this.overprovisioning = overprovisioning;
    const old = new Map(this.hosts.map((h) => [h.key, h]));
    const next: Host[] = [];
    for (const e of endpoints) {
      const probe = new Host(e);
      const existing = old.get(probe.key);
      if (existing) {
        existing.update(e);
        old.delete(probe.key);
        next.push(existing);
      } else {
        probe.addedAt = this.clock.now();
        next.push(probe);
      }
    }
    for (const gone of old.values()) gone.pool?.drain();
    this.hosts = next;
    this.byKey = new Map(next.map((h) => [h.key, h]));
    this.usableStale = true;
    this.warmed = true;
  }

  /** The transport socket for a host: first transport_socket_match whose metadata matches, else the default. */
  tlsFor(host: Host): TlsSpec | undefined {
    const m = this.socketMatchFor(host);
    return m ? m.tls : this.config.tls;
  }

  /**
   * The PROXY header a host's connections start with (undefined: its transport socket has none):
   * the downstream connection's ends when given (tcp_proxy), else the upstream socket's own.
   */
  proxyHeaderFor(host: Host, downstream?: { source: ProxyAddress; destination: ProxyAddress }): ProxyHeaderSpec | undefined {
    const m = this.socketMatchFor(host);
    const version = m ? m.proxyProtocol : this.config.proxyProtocol;
    return version === undefined ? undefined : { version, ...downstream };
  }

  /** The first transport_socket_matches entry the host's metadata matches. */
  private socketMatchFor(host: Host): ClusterConfig['tlsMatches'][number] | undefined {
    return this.config.tlsMatches.find((m) => Object.entries(m.match).every(([k, v]) => host.metadata[k] === v));
  }

  pool(host: Host): Http1Pool {
    if (!host.pool) host.pool = new Http1Pool(host, this, this.tlsFor(host));
    return host.pool;
  }

  private refreshUsable(now: number): void {
    let next = Infinity;
    for (const h of this.hosts) {
      if (h.ejectedUntil > now) next = Math.min(next, h.ejectedUntil);
      else if (h.ejectedUntil !== 0) h.ejectedUntil = 0;
    }
    // Priorities (locality failover) and locality weights, as Envoy's priority set
    this.priorities = new PrioritySet(this.hosts, now, { overprovisioning: this.overprovisioning, panicThreshold: this.config.panicThreshold, localityWeighted: this.config.localityWeighted });
    this.usable = this.priorities.single;
    this.nextUnejectAt = next;
    this.usableStale = false;
  }

  /** Pick a host (undefined: no healthy upstream, Envoy's UH). */
  pick(hash: number | undefined, avoid: Host | undefined): Host | undefined {
    const now = this.clock.now();
    if (this.usableStale || now >= this.nextUnejectAt) this.refreshUsable(now);
    const ss = this.config.slowStart;
    if (this.usable) return (ss && pickWarmingUp(ss, this.usable, now, this.config.lbPolicy === 'LEAST_REQUEST', avoid)) || this.lb.pick(this.usable, hash, avoid);
    const chosen = this.priorities!.choose(hash, () => createLoadBalancer(this.config.lbPolicy, this.config));
    if (!chosen) return undefined;
    return (ss && pickWarmingUp(ss, chosen.hosts, now, this.config.lbPolicy === 'LEAST_REQUEST', avoid)) || chosen.lb.pick(chosen.hosts, hash, avoid);
  }

  /**
   * The host for a request: ORIGINAL_DST clusters take `destination` (the captured original
   * destination, else the downstream local address, as `ip:port` / `[ip6]:port`); others load-balance.
   */
  hostFor(destination: string, hash: number | undefined, avoid: Host | undefined): Host | undefined {
    if (!this.followsDestination()) return this.pick(hash, avoid);
    return this.originalDestinationHostFor(destination);
  }

  /**
   * Whether a connection goes to its own destination: ORIGINAL_DST, or a cluster whose one
   * endpoint is an `envoy_internal_address` without endpoint_id (Istio's waypoint `encap`: the
   * destination, reached through that internal listener).
   */
  followsDestination(): boolean {
    return this.config.type === 'ORIGINAL_DST' || this.destinationListener() !== undefined;
  }

  private destinationListener(): string | undefined {
    const only = this.config.type === 'STATIC' && this.config.staticEndpoints?.length === 1 ? this.config.staticEndpoints[0] : undefined;
    return only?.internalListener && only.address === '' ? only.internalListener : undefined;
  }

  /**
   * ORIGINAL_DST: the host for a destination `ip:port`, `[ip6]:port` (or unbracketed `ip6:port`),
   * created on first use; undefined when the text has no valid port. A destination already in
   * canonical form (what the listener records) is found without parsing or allocating.
   */
  originalDestinationHostFor(destination: string): Host | undefined {
    const known = this.byKey.get(destination);
    if (known) return known;
    const c = destination.lastIndexOf(':');
    const port = Number(destination.slice(c + 1));
    if (c <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
    const open = destination.charCodeAt(0) === 91 /* [ */ && destination.charCodeAt(c - 1) === 93; /* ] */
    return this.originalDestinationHost(open ? destination.slice(1, c - 1) : destination.slice(0, c), port);
  }

  /**
   * ORIGINAL_DST: the host for a destination address, created on first use. At most 1,024 such
   * hosts are kept: a new one beyond that evicts (and drains) the oldest.
   */
  originalDestinationHost(address: string, port: number): Host {
    const internalListener = this.destinationListener();
    const key = `${internalListener ? `${internalListener}/` : ''}${address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`}`;
    let h = this.byKey.get(key);
    if (!h) {
      h = new Host({ address, port, weight: 1, healthy: true, metadata: {}, locality: '', hostname: '', priority: 0, localityWeight: 0, ...(internalListener ? { internalListener } : {}) });
      this.hosts.push(h);
      this.byKey.set(key, h);
      if (this.hosts.length > MAX_ORIGINAL_DESTINATION_HOSTS) {
        const old = this.hosts.shift()!;
        if (this.byKey.get(old.key) === old) this.byKey.delete(old.key);
        old.pool?.drain();
      }
    }
    return h;
  }

  /**
   * Outlier detection input: one response from a host, or a local-origin failure (connect
   * failure, reset, timeout) given as the 503/504 it stands for.
   */
  recordResult(host: Host, status: number, localOrigin: boolean): void {
    this.outlierDetector?.putResult(host, status, localOrigin);
  }

  /** Outlier detection input: a TCP proxy connection to the host succeeded. */
  recordConnectSuccess(host: Host): void {
    this.outlierDetector?.putConnectSuccess(host);
  }

  /**
   * Whether one more retry may start, as Envoy's retries resource: below max_retries, or with a
   * retry budget below max(min_retry_concurrency, budget_percent of active + pending requests).
   */
  retryAllowed(): boolean {
    const l = this.config.limits;
    const b = this.breaker;
    const max = l.retryBudget ? Math.max(l.retryBudget.minConcurrency, Math.floor((l.retryBudget.percent / 100) * (b.requests + b.pending))) : l.maxRetries;
    return b.retries < max;
  }

  /**
   * Charge a response code to the cluster (upstream_rq_<code>, upstream_rq_<class>xx,
   * upstream_rq_completed), as Envoy's router does: for the upstream's own final response, and for
   * the 503/504 it answers itself when an attempt was aborted (connection failure, reset,
   * overflow, timeout: chargeUpstreamAbort). A 503 with no upstream host at all (no healthy
   * upstream, no cluster) is not charged: Envoy counts it as upstream_cx_none_healthy only.
   */
  countResponse(status: number): void {
    const s = this.stats;
    s.rqCompleted++;
    s.rqCodes.set(status, (s.rqCodes.get(status) ?? 0) + 1);
    if (status < 300) s.rq2xx++;
    else if (status < 400) s.rq3xx++;
    else if (status < 500) s.rq4xx++;
    else s.rq5xx++;
  }

  close(): void {
    this.outlierDetector?.close();
    for (const h of this.hosts) h.pool?.drain();
  }
}
