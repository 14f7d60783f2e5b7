import type { Clock } from '../lib/clock.ts';
import type { LogFactory, Logger } from '../lib/log.ts';
import { loadWorkloadRoot } from '../api/workload/workload-protos.ts';
import { loadDiscoveryEnvoyRoot } from '../api/xds/proxy-envoy-root.ts';
import { HbonePool } from './hbone/hbone-pool.ts';
import type { XdsTransport } from './xds-client/ads-client.ts';
import { jsonToStruct } from './xds-client/proto-values.ts';
import { ConnectionTracker, type AccessLogSink } from './ztunnel/connection-tracker.ts';
import { IdentityCertificates } from './ztunnel/identity-certificates.ts';
import { WorkloadProxyManager } from './ztunnel/inpod/workload-proxy-manager.ts';
import { ZdsClient } from './ztunnel/inpod/zds-client.ts';
import { L4Authorizer } from './ztunnel/l4-authorizer.ts';
import { WorkloadStore } from './ztunnel/workload-store.ts';
import { WorkloadXdsClient } from './ztunnel/workload-xds-client.ts';
import { adminHandler, limitedHandler, PlainHttpServer, type ZtunnelAdminSource } from './ztunnel/ztunnel-admin.ts';
import type { ZtunnelContext } from './ztunnel/ztunnel-context.ts';
import { ZtunnelMetrics } from './ztunnel/ztunnel-metrics.ts';
import { DnsResolver } from './dns/dns-resolver.ts';
import { workloadDnsNames } from './ztunnel/dns-names.ts';

/**
 * Composition root of `mizzen proxy ztunnel`, the per-node L4 proxy of ambient mode: the workload
 * API client (discovery), certificates for every identity on the node (CA with impersonation),
 * the ZDS client that receives pods from the node agent and runs their in-pod proxies, L4
 * authorization, HBONE pool, metrics/access log and ztunnel's admin, readiness and metrics ports.
 */
export interface ZtunnelOptions {
  discovery: string;
  xdsTransport?: XdsTransport;
  caAddress: string;
  caRootCertPem?: string;
  token: () => string | undefined | Promise<string | undefined>;
  podName: string;
  namespace: string;
  ip: string;
  nodeName: string;
  clusterId: string;
  network: string;
  zdsSocket: string;
  onDemand: boolean;
  adminAddress: string;
  adminPort: number | undefined;
  readinessPort: number | undefined;
  metricsPort: number | undefined;
  accessLog?: AccessLogSink;
  logs: LogFactory;
  clock: Clock;
  onQuit?: () => void;
  trustDomain?: string;
  /** Serve DNS in pods on 15053 (ztunnel's DNS proxy); upstream resolvers for other names. */
  dns?: { upstreams: readonly string[]; clusterDomain?: string };
}

export class Ztunnel {
  readonly store = new WorkloadStore();
  readonly metrics = new ZtunnelMetrics();
  readonly xds: WorkloadXdsClient;
  readonly manager: WorkloadProxyManager;
  readonly context: ZtunnelContext;
  private readonly zds: ZdsClient;
  private readonly o: ZtunnelOptions;
  private readonly log: Logger;
  private readonly servers: PlainHttpServer[] = [];
  adminPort: number | undefined;
  readinessPort: number | undefined;
  metricsPort: number | undefined;

  constructor(o: ZtunnelOptions) {
    this.o = o;
    this.log = o.logs.component('ztunnel');
    const node = {
      id: `ztunnel~${o.ip}~${o.podName}.${o.namespace}~${o.namespace}.svc.cluster.local`,
      metadata: jsonToStruct({ NAME: o.podName, NAMESPACE: o.namespace, INSTANCE_IPS: o.ip, NODE_NAME: o.nodeName, CLUSTER_ID: o.clusterId, NETWORK: o.network }),
    };
    this.xds = new WorkloadXdsClient({
      target: o.discovery,
      node,
      envoyRoot: loadDiscoveryEnvoyRoot(),
      workloadRoot: loadWorkloadRoot(),
      store: this.store,
      clock: o.clock,
      log: o.logs.component('xds'),
      ...(o.xdsTransport ? { transport: o.xdsTransport } : {}),
      onDemand: o.onDemand,
    });
    const authorizer = new L4Authorizer(this.store, (policy, outcome) => this.log.info({ policy }, outcome));
    const tracker = new ConnectionTracker({ metrics: this.metrics, log: o.logs.component('access'), ...(o.accessLog ? { accessLog: o.accessLog } : {}) });
    this.context = {
      store: this.store,
      demand: (name) => this.xds.demand(name),
      authorizer,
      certs: new IdentityCertificates({ caAddress: o.caAddress, ...(o.caRootCertPem ? { caRootCertPem: o.caRootCertPem } : {}), token: o.token, clock: o.clock, log: o.logs.component('ca') }),
      pool: new HbonePool({ log: o.logs.component('hbone') }),
      tracker,
      metrics: this.metrics,
      log: o.logs.component('proxy'),
      network: o.network,
      trustDomain: o.trustDomain ?? 'cluster.local',
      dns: o.dns
        ? { resolver: new DnsResolver(workloadDnsNames(this.store, () => o.network, o.dns.clusterDomain), o.dns.clusterDomain), upstreams: o.dns.upstreams, counters: this.metrics.dns }
        : undefined,
    };
    // A policy (or a workload's policy list) changed: open connections are checked again.
    this.store.onChange((changes) => {
      if (changes.some((c) => c.kind === 'policy' || c.kind === 'workload')) tracker.recheck(authorizer, (uid) => this.store.workload(uid));
    });
    this.manager = new WorkloadProxyManager(this.context);
    this.zds = new ZdsClient({ path: o.zdsSocket, manager: this.manager, log: o.logs.component('inpod') });
  }

  private adminSource(): ZtunnelAdminSource {
    return {
      store: this.store,
      certificates: () => this.context.certs.dump().map((c) => ({ ...c, certChainPem: this.context.certs.current(c.identity)?.certChainPem })),
      pods: () => this.manager.list(),
      xdsStatus: () => ({ connected: this.xds.connected, types: Object.fromEntries(this.xds.status) }),
      config: () => ({ discovery: this.o.discovery, caAddress: this.o.caAddress, nodeName: this.o.nodeName, network: this.o.network, clusterId: this.o.clusterId, zdsSocket: this.o.zdsSocket, xdsOnDemand: this.o.onDemand }),
      ready: () => this.readiness(),
      metrics: () => this.metrics.render(),
      quit: () => this.o.onQuit?.(),
    };
  }

  /** Ready once the workload API delivered both types and the node agent sent its snapshot. */
  readiness(): { ready: boolean; waitingFor: string[] } {
    const waitingFor: string[] = [];
    if (!this.xds.isReady) waitingFor.push('workload API (xDS) from discovery');
    if (!this.manager.snapshotReceived) waitingFor.push(`node agent snapshot (ZDS ${this.o.zdsSocket})`);
    return { ready: waitingFor.length === 0, waitingFor };
  }

  async start(): Promise<void> {
    this.xds.start();
    this.zds.start();
    const src = this.adminSource();
    if (this.o.adminPort !== undefined) {
      const s = new PlainHttpServer(adminHandler(src));
      this.servers.push(s);
      this.adminPort = await s.listen(this.o.adminAddress, this.o.adminPort);
    }
    if (this.o.readinessPort !== undefined) {
      const s = new PlainHttpServer(limitedHandler(src, ['/healthz/ready']));
      this.servers.push(s);
      this.readinessPort = await s.listen('0.0.0.0', this.o.readinessPort);
    }
    if (this.o.metricsPort !== undefined) {
      const s = new PlainHttpServer(limitedHandler(src, ['/metrics', '/stats/prometheus']));
      this.servers.push(s);
      this.metricsPort = await s.listen('0.0.0.0', this.o.metricsPort);
    }
    this.log.info({ discovery: this.o.discovery, zds: this.o.zdsSocket, node: this.o.nodeName }, 'ztunnel started');
  }

  close(): void {
    this.zds.close();
    this.manager.close();
    this.xds.close();
    this.context.pool.close();
    this.context.certs.close();
    for (const s of this.servers) s.close();
  }
}
