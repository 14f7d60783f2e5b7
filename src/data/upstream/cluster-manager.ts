import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Obj } from '../xds-client/proto-values.ts';
import { Cluster } from './cluster.ts';
import { compileCluster, type ClusterConfig } from './cluster-config.ts';
import { compileEndpoints, type EndpointSpec } from './endpoint-config.ts';
import { resolveStrictDns } from './dns-resolver.ts';
import type { UpstreamConnector } from './upstream-connector.ts';

/**
 * All clusters of the proxy. Updates are compiled first and swapped in only when every resource
 * in the update is valid; a replaced cluster keeps its hosts, pools and counters.
 */
export class ClusterManager {
  private readonly connector: UpstreamConnector;
  private readonly clock: Clock;
  private readonly log: Logger;
  readonly clusters = new Map<string, Cluster>();
  /** Last endpoints per EDS service name, also for clusters that are not (yet) known. */
  readonly endpoints = new Map<string, { spec: EndpointSpec[]; overprovisioning: number; raw: Obj; version: string }>();
  private dnsTimers = new Map<string, NodeJS.Timeout>();

  constructor(connector: UpstreamConnector, clock: Clock, log: Logger) {
    this.connector = connector;
    this.clock = clock;
    this.log = log;
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  /** Validate a set of Cluster resources; throws ResourceRejection on the first invalid one. */
  compile(resources: readonly Obj[]): ClusterConfig[] {
    return resources.map((r) => compileCluster(r));
  }

  /** Apply compiled clusters (all valid). `full` removes clusters not listed. */
  applyClusters(configs: readonly ClusterConfig[], removed: readonly string[], full: boolean, version: string): void {
    const names = new Set(configs.map((c) => c.name));
    for (const cfg of configs) {
      const existing = this.clusters.get(cfg.name);
      if (existing) {
        if (JSON.stringify(existing.config.raw) !== JSON.stringify(cfg.raw)) {
          existing.reconfigure(cfg);
          existing.lastUpdated = new Date().toISOString();
        }
        existing.versionInfo = version;
      } else {
        const c = new Cluster(cfg, this.connector, this.clock);
        c.versionInfo = version;
        this.clusters.set(cfg.name, c);
      }
      const cl = this.clusters.get(cfg.name)!;
      if (cfg.type === 'EDS') {
        const eps = this.endpoints.get(cfg.edsServiceName);
        if (eps && !cl.warmed) cl.setEndpoints(eps.spec, eps.overprovisioning);
      }
      if (cfg.type === 'STRICT_DNS' || cfg.type === 'LOGICAL_DNS') this.startDns(cl);
    }
    const drop = full ? [...this.clusters.keys()].filter((n) => !names.has(n)) : removed;
    for (const n of drop) {
      this.clusters.get(n)?.close();
      this.clusters.delete(n);
      const t = this.dnsTimers.get(n);
      if (t) clearInterval(t);
      this.dnsTimers.delete(n);
    }
  }

  /** Validate ClusterLoadAssignments; throws ResourceRejection. */
  compileEndpoints(resources: readonly Obj[]): { name: string; spec: EndpointSpec[]; overprovisioning: number; raw: Obj }[] {
    return resources.map((r) => {
      const c = compileEndpoints(r, `ClusterLoadAssignment ${String(r.clusterName ?? '')}`);
      return { name: c.clusterName, spec: c.endpoints, overprovisioning: c.overprovisioning, raw: r };
    });
  }

  applyEndpoints(list: readonly { name: string; spec: EndpointSpec[]; overprovisioning?: number; raw: Obj }[], removed: readonly string[], version: string): void {
    for (const e of list) {
      this.endpoints.set(e.name, { spec: e.spec, overprovisioning: e.overprovisioning ?? 1.4, raw: e.raw, version });
      for (const c of this.clusters.values()) if (c.config.type === 'EDS' && c.config.edsServiceName === e.name) c.setEndpoints(e.spec, e.overprovisioning);
    }
    for (const n of removed) {
      this.endpoints.delete(n);
      for (const c of this.clusters.values()) if (c.config.type === 'EDS' && c.config.edsServiceName === n) c.setEndpoints([]);
    }
  }

  /** EDS service names the proxy needs. */
  edsNames(): string[] {
    const out = new Set<string>();
    for (const c of this.clusters.values()) if (c.config.type === 'EDS') out.add(c.config.edsServiceName);
    return [...out];
  }

  /** Secret names referenced by cluster transport sockets. */
  secretNames(): string[] {
    const out = new Set<string>();
    for (const c of this.clusters.values()) {
      for (const t of [c.config.tls, ...c.config.tlsMatches.map((m) => m.tls)]) {
        if (t?.cert && 'sds' in t.cert) out.add(t.cert.sds);
        if (t?.ca && 'sds' in t.ca) out.add(t.ca.sds);
      }
    }
    return [...out];
  }

  private startDns(c: Cluster): void {
    const name = c.config.name;
    const run = (): void => {
      const cl = this.clusters.get(name);
      if (!cl || !cl.config.staticEndpoints) return;
      resolveStrictDns(cl.config.staticEndpoints, cl.config.dnsFamily).then((eps) => {
        if (this.clusters.get(name) === cl) cl.setEndpoints(eps);
      }, (err: Error) => this.log.warn({ cluster: name, err: err.message }, 'DNS resolution failed'));
    };
    run();
    if (!this.dnsTimers.has(name)) {
      const t = setInterval(run, c.config.dnsRefreshMs);
      t.unref();
      this.dnsTimers.set(name, t);
    }
  }

  close(): void {
    for (const t of this.dnsTimers.values()) clearInterval(t);
    this.dnsTimers.clear();
    for (const c of this.clusters.values()) c.close();
  }
}
