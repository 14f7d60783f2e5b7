import { systemClock, type Clock } from '../lib/clock.ts';
import type { LogFactory, Logger } from '../lib/log.ts';
import { countOpenFiles, openFilesSoftLimitFromProc } from '../lib/open-files.ts';
import { loadProxyEnvoyRoot } from '../api/xds/proxy-envoy-root.ts';
import { NDS_PROTO_FILE } from '../api/xds/envoy-protos.ts';
import { TYPE_URL } from '../api/xds/type-urls.ts';
import { certsAdminView } from '../agent/certs-admin-view.ts';
import { AdminServer, type AdminSource } from './admin/admin-server.ts';
import type { SidecarDns } from './dns/sidecar-dns.ts';
import { buildConfigDump } from './admin/config-dump.ts';
import { clustersAdminText } from './admin/clusters-admin-text.ts';
import { ProxyStats } from './admin/proxy-stats.ts';
import { CORS_FILTER_TYPE, createCorsFilter } from './l7/cors-filter.ts';
import { FAULT_FILTER_TYPE, createFaultFilter } from './l7/fault-filter.ts';
import { HttpFilterRegistry } from './l7/http-filter.ts';
import type { StreamObserver } from './l7/stream-info.ts';
import { DEFAULT_DRAIN_DURATION_MS, ListenerManager, type ListenerManagerDeps } from './listener/listener-manager.ts';
import type { DescriptorSource } from './listener/descriptor-overload.ts';
import { registerPolicyFilters, type PolicyFilters } from './policy/policy-filters.ts';
import type { AccessLogOptions } from './telemetry/access-log.ts';
import { IstioTelemetry } from './telemetry/istio-telemetry.ts';
import { serviceOfClusterMetadata, type PeerLookup, type ServiceRef } from './telemetry/istio-labels.ts';
import type { AppScrapeTarget } from './telemetry/merged-metrics-server.ts';
import type { AppProber } from './telemetry/app-health-prober.ts';
import { NetworkFilterRegistry } from './listener/network-filter.ts';
import { LOCAL_ADDRESS_DESTINATION, type OriginalDestination } from './listener/original-destination.ts';
import { ChainedSecretProvider, MapSecretProvider, type SecretProvider } from './tls/secret-provider.ts';
import { TlsContextFactory } from './tls/tls-context-factory.ts';
import { ClusterManager } from './upstream/cluster-manager.ts';
import { UpstreamConnector, type InternalUpstream } from './upstream/upstream-connector.ts';
import { AdsClient, type XdsTransport } from './xds-client/ads-client.ts';
import { XdsConfigApplier } from './xds-client/config-applier.ts';
import { proxyResourceSink } from './xds-client/proxy-resource-sink.ts';
import { EnvoyCodec } from './xds-client/envoy-codec.ts';
import { buildNode, type NodeIdentity } from './xds-client/node-identity.ts';

export interface ProxyOptions {
  identity: NodeIdentity;
  /** Discovery address HOST:PORT (ADS). */
  discovery: string;
  /** Plaintext when omitted; TLS root, server name and per-stream metadata (JWT) otherwise. */
  xdsTransport?: XdsTransport;
  xdsProtocol?: 'delta' | 'sotw';
  logs: LogFactory;
  clock?: Clock;
  codec?: EnvoyCodec;
  /** Admin (15000) on localhost; `undefined` port disables it, 0 picks one. */
  adminAddress?: string;
  adminPort?: number;
  /** Readiness (15021, /healthz/ready) and Prometheus (15090) servers; undefined disables. */
  readinessAddress?: string;
  readinessPort?: number;
  prometheusPort?: number;
  /** Secrets from the local agent (`default`, `ROOTCA`); SDS-over-ADS secrets are consulted after. */
  secrets?: SecretProvider;
  originalDestination?: OriginalDestination;
  bindAddressOverride?: string;
  portOverride?: (listenerName: string, port: number) => number;
  /** Extra filters (RBAC, JWT, telemetry) registered by other components. */
  registerFilters?: (http: HttpFilterRegistry, network: NetworkFilterRegistry) => void;
  observers?: StreamObserver[];
  /** Istio access log (meshConfig.accessLogFile/Encoding/Format); none when undefined. */
  accessLog?: AccessLogOptions;
  /** 15020: Prometheus merged with the app's metrics (`appMetrics` or node PROMETHEUS_ANNOTATIONS); undefined disables. */
  mergedMetricsPort?: number;
  appMetrics?: AppScrapeTarget;
  /** ISTIO_KUBE_APP_PROBERS (served on the merged port as `/app-health/...`). */
  appProbers?: ReadonlyMap<string, AppProber>;
  drainGraceMs?: number;
  /** Listener updates: connections on changed filter chains are closed after this (default 45 s, Istio's drainDuration). */
  drainDurationMs?: number;
  /** The process environment Envoy's `environment` span tags read (istio-proxy's CANONICAL_SERVICE, ...). */
  environment?: Readonly<Record<string, string>>;
  onQuit?: () => void;
  /** Internal listeners that `envoy_internal_address` endpoints reach (the waypoint's `connect_originate`). */
  internalUpstreams?: ReadonlyMap<string, InternalUpstream>;
  /** A waypoint's workloads by IP, for the peers its `reporter="waypoint"` metrics name. */
  peers?: PeerLookup;
  /** The sidecar's DNS proxy (ISTIO_META_DNS_CAPTURE): fed by NDS on the ADS stream, started and closed with the proxy. */
  dns?: SidecarDns;
  /** Called once when the proxy closes (its composition root's own parts: HBONE pools). */
  onClose?: () => void;
  /**
   * Where the open-files overload monitor reads descriptor use (default: RLIMIT_NOFILE and
   * /proc/self/fd of this process); false turns the monitor off.
   */
  descriptors?: DescriptorSource | false;
  overload?: ListenerManagerDeps['overload'];
}

/**
 * The data plane proxy: ADS client → config applier → clusters, listeners, routes; admin and
 * readiness servers. `sidecar.ts` and `router.ts` build it for their node types.
 */
export class Proxy implements AdminSource {
  readonly options: ProxyOptions;
  readonly log: Logger;
  readonly codec: EnvoyCodec;
  readonly node: Record<string, unknown>;
  readonly stats = new ProxyStats();
  readonly adsSecrets = new MapSecretProvider();
  readonly secrets: SecretProvider;
  readonly tlsFactory: TlsContextFactory;
  readonly clusters: ClusterManager;
  readonly listeners: ListenerManager;
  readonly applier: XdsConfigApplier;
  readonly ads: AdsClient;
  readonly httpFilters = new HttpFilterRegistry();
  private readonly policyFilters: PolicyFilters;
  readonly networkFilters = new NetworkFilterRegistry();
  readonly telemetry: IstioTelemetry;
  mergedMetricsPort: number | undefined;
  private readonly observers: StreamObserver[];
  private admin: AdminServer | undefined;
  private readiness: AdminServer | undefined;
  private prometheus: AdminServer | undefined;
  adminPort: number | undefined;
  readinessPort: number | undefined;
  prometheusPort: number | undefined;
  private closed = false;

  constructor(options: ProxyOptions) {
    this.options = options;
    const clock = options.clock ?? systemClock;
    this.log = options.logs.component('proxy');
    // only the Envoy types the proxy decodes (the full Root costs ~6 MB more per process)
    this.codec = options.codec ?? new EnvoyCodec(loadProxyEnvoyRoot());
    this.node = buildNode(options.identity);
    this.secrets = options.secrets ? new ChainedSecretProvider([options.secrets, this.adsSecrets]) : this.adsSecrets;
    this.tlsFactory = new TlsContextFactory(this.secrets);
    this.clusters = new ClusterManager(new UpstreamConnector(this.tlsFactory, undefined, undefined, options.internalUpstreams), clock, options.logs.component('upstream'));
    this.httpFilters.register(FAULT_FILTER_TYPE, createFaultFilter).register(CORS_FILTER_TYPE, createCorsFilter);
    // Istio's telemetry/metadata filters: no traffic effect here (telemetry is done by observers)
    for (const n of ['istio.alpn', 'envoy.filters.http.grpc_stats', 'envoy.filters.http.grpc_web'])
      this.httpFilters.ignoreName(n);
    for (const t of ['envoy.extensions.filters.http.grpc_stats.v3.FilterConfig', 'istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig', 'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb'])
      this.httpFilters.ignoreType(t);
    // authorization, JWT and Istio telemetry (src/data/policy, src/data/telemetry)
    this.policyFilters = registerPolicyFilters(this.httpFilters, this.networkFilters, { now: () => clock.now(), clusters: this.clusters, root: this.codec.root });
    const clusterServices = new WeakMap<object, ServiceRef | undefined>();
    this.telemetry = new IstioTelemetry({
      node: this.node,
      log: options.logs.component('telemetry'),
      accessLog: options.accessLog,
      appMetrics: options.appMetrics,
      clusters: () => this.clusters,
      environment: options.environment,
      ...(options.peers ? { peers: options.peers } : {}),
      ...(options.appProbers ? { appProbers: options.appProbers, podIp: options.identity.ip } : {}),
      clusterService: (name) => {
        // resolved once per cluster config (a CDS update replaces the object)
        const config = this.clusters.get(name)?.config;
        if (!config) return undefined;
        if (!clusterServices.has(config)) clusterServices.set(config, serviceOfClusterMetadata(config.metadata));
        return clusterServices.get(config);
      },
    });
    this.telemetry.registerFilters(this.httpFilters);
    this.observers = [this.stats, ...this.telemetry.observers, ...(options.observers ?? [])];
    for (const n of ['istio.metadata_exchange', 'istio.stats', 'envoy.filters.network.metadata_exchange'])
      this.networkFilters.ignoreName(n);
    this.networkFilters.ignoreType('envoy.tcp.metadataexchange.config.MetadataExchange');
    options.registerFilters?.(this.httpFilters, this.networkFilters);
    const runtime = {
      clusters: this.clusters,
      routeTable: (name: string) => this.applier.routeTable(name),
      observers: this.observers,
    };
    this.listeners = new ListenerManager({
      runtime,
      tls: this.tlsFactory,
      originalDst: options.originalDestination ?? LOCAL_ADDRESS_DESTINATION,
      log: options.logs.component('listener'),
      bindAddressOverride: options.bindAddressOverride,
      portOverride: options.portOverride,
      tcpMetadataExchange: this.telemetry.tcpExchange,
      drainDurationMs: options.drainDurationMs,
      descriptors: options.descriptors === false ? undefined : options.descriptors ?? { limit: openFilesSoftLimitFromProc, open: countOpenFiles },
      overload: options.overload,
    });
    this.applier = new XdsConfigApplier({
      clusters: this.clusters,
      listeners: this.listeners,
      secrets: this.adsSecrets,
      compileDeps: { httpFilters: this.httpFilters, networkFilters: this.networkFilters },
      log: options.logs.component('xds'),
    });
    const dns = options.dns;
    // Istio's NDS: not part of Envoy's API (istio-agent asks for it on the same stream)
    if (dns) this.codec.root.loadSync(NDS_PROTO_FILE, { keepCase: false }).resolveAll();
    this.ads = new AdsClient({
      target: options.discovery,
      node: this.node,
      codec: this.codec,
      ...(dns ? { extraWildcardTypes: [TYPE_URL.nameTable] } : {}),
      sink: proxyResourceSink(this.applier, this.stats, dns),
      clock,
      log: options.logs.component('xds'),
      protocol: options.xdsProtocol,
      transport: options.xdsTransport,
    });
  }

  async start(): Promise<void> {
    const o = this.options;
    if (o.adminPort !== undefined) {
      this.admin = new AdminServer(this, this.log);
      this.adminPort = await this.admin.listen(o.adminAddress ?? '127.0.0.1', o.adminPort);
    }
    if (o.readinessPort !== undefined) {
      this.readiness = new AdminServer(this, this.log);
      this.readinessPort = await this.readiness.listen(o.readinessAddress ?? '0.0.0.0', o.readinessPort);
    }
    if (o.prometheusPort !== undefined) {
      this.prometheus = new AdminServer(this, this.log);
      this.prometheusPort = await this.prometheus.listen(o.readinessAddress ?? '0.0.0.0', o.prometheusPort);
    }
    if (o.mergedMetricsPort !== undefined) {
      this.mergedMetricsPort = await this.telemetry.startMerged(o.readinessAddress ?? '0.0.0.0', o.mergedMetricsPort, () => this.statsPrometheus());
    }
    if (o.dns) await o.dns.start();
    this.ads.start();
    this.log.info({ node: this.node.id, discovery: o.discovery, ...(o.dns ? { dnsPort: o.dns.port } : {}) }, 'proxy started');
  }

  /** Resolves once the first full config is applied (clusters, listeners and their routes). */
  whenReady(): Promise<void> {
    return new Promise((resolve) => this.applier.onReady(resolve));
  }

  ready(): boolean {
    return this.applier.ready && this.listeners.pendingBinds === 0;
  }

  boundPort(listenerName: string): number | undefined {
    return this.listeners.boundPort(listenerName);
  }

  /**
   * SIGTERM as Istio's agent handles it: inbound connections drained while the listeners keep
   * accepting, until no inbound connection has come for `quietMs` (within the grace period),
   * then drain() with what is left of it.
   */
  async terminate(graceMs = this.options.drainGraceMs ?? 5000, quietMs = 1000): Promise<void> {
    const start = Date.now();
    this.log.info({ graceMs, quietMs }, 'terminating: draining inbound connections while still accepting');
    await this.listeners.drainInboundGracefully(quietMs, graceMs);
    await this.drain(Math.max(1000, graceMs - (Date.now() - start)));
  }

  /** Stop accepting, let in-flight requests finish within the grace period, then close. */
  async drain(graceMs = this.options.drainGraceMs ?? 5000): Promise<void> {
    this.log.info({ graceMs }, 'draining');
    await this.listeners.drain(graceMs);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ads.close();
    this.listeners.close();
    this.clusters.close();
    this.policyFilters.close();
    this.tlsFactory.close();
    this.admin?.close();
    this.readiness?.close();
    this.prometheus?.close();
    this.telemetry.close();
    this.options.dns?.close();
    this.options.onClose?.();
  }

  // AdminSource

  configDump(params: URLSearchParams): unknown {
    const local: { name: string; secret: NonNullable<ReturnType<SecretProvider['getSecret']>> }[] = [];
    for (const n of ['default', 'ROOTCA']) {
      const s = this.options.secrets?.getSecret(n);
      if (s) local.push({ name: n, secret: s });
    }
    return buildConfigDump({
      root: this.codec.root,
      node: { ...this.node, metadata: this.options.identity },
      accepted: this.applier.accepted,
      localSecrets: local,
      includeEds: params.has('include_eds'),
      resource: params.get('resource') ?? undefined,
    });
  }

  clustersText(json: boolean): string {
    return clustersAdminText(this.clusters, json);
  }

  statsText(): string {
    return this.stats.text(this.clusters, this.listeners.overload?.statLines());
  }

  /** Envoy-style proxy counters followed by Istio's standard metrics. */
  async statsPrometheus(): Promise<string> {
    return `${this.stats.prometheus(this.clusters)}${await this.telemetry.prometheusText()}`;
  }

  listenerList(): { name: string; address: string; port: number | undefined }[] {
    return [...this.listeners.listeners.values()].map((l) => ({ name: l.spec.name, address: l.spec.address, port: l.server ? l.boundPort : undefined }));
  }

  setLogLevel(level: string, component: string | undefined): boolean {
    const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
    if (!levels.includes(level)) return false;
    if (component) this.options.logs.component(component).level = level;
    else {
      // Envoy's level=L sets every logger.
      this.options.logs.root.level = level;
      for (const name of Object.keys(this.options.logs.levels())) if (name !== 'default') this.options.logs.component(name).level = level;
    }
    return true;
  }

  drainListeners(inboundOnly: boolean): number {
    const n = this.listeners.stopListeners(inboundOnly);
    // Istio's readiness (15021) and Prometheus (15090) ports are listeners of Envoy's bootstrap:
    // draining every listener closes them too, so the pod's readiness probe fails (as on Kubernetes,
    // where the drained pod then leaves its Service's ready endpoints).
    if (!inboundOnly) {
      this.readiness?.close();
      this.readiness = undefined;
      this.prometheus?.close();
      this.prometheus = undefined;
    }
    this.log.info({ inboundOnly, closed: n }, 'drain_listeners: listeners closed');
    return n;
  }

  logLevels(): Record<string, string> {
    return this.options.logs.levels();
  }

  quit(): void {
    this.log.info('quitquitquit received');
    if (this.options.onQuit) this.options.onQuit();
    else void this.drain(0);
  }

  certs(): unknown {
    const cert = this.secrets.getSecret('default');
    const root = this.secrets.getSecret('ROOTCA');
    const pems = cert?.kind === 'certificate' && root?.kind === 'validation' ? { certChainPem: cert.certChain, rootCertPem: root.trustedCa } : undefined;
    return certsAdminView(pems, (this.options.clock ?? systemClock).now());
  }

  serverInfo(): unknown {
    return {
      version: 'mizzen/0.1.0',
      state: this.ready() ? 'LIVE' : 'PRE_INITIALIZING',
      node: this.node.id,
      // as Envoy's server_info: the drain settings listener updates use (Istio runs --drain-strategy immediate)
      command_line_options: { drain_time: `${(this.options.drainDurationMs ?? DEFAULT_DRAIN_DURATION_MS) / 1000}s`, drain_strategy: 'Immediate' },
      xds: {
        connected: this.ads.connected,
        protocol: this.ads.activeProtocol,
        types: Object.fromEntries([...this.ads.status].map(([k, v]) => [k.split('.').pop(), v])),
      },
      listeners: this.applier.names(TYPE_URL.listener).length,
      clusters: this.clusters.clusters.size,
    };
  }
}

