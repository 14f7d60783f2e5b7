import type { Logger } from '../../lib/log.ts';
import type { HttpFilterRegistry } from '../l7/http-filter.ts';
import type { StreamObserver } from '../l7/stream-info.ts';
import { structToJson, type Obj } from '../xds-client/proto-values.ts';
import { AccessLog, type AccessLogOptions } from './access-log.ts';
import { AccessLogSinks, createHcmAccessLogFilter, HcmAccessLogObserver } from './hcm-access-log.ts';
import type { PeerLookup, ServiceRef } from './istio-labels.ts';
import { IstioMetrics } from './istio-metrics.ts';
import { MergedMetricsServer, scrapeTargetOf, type AppScrapeTarget } from './merged-metrics-server.ts';
import type { AppProber } from './app-health-prober.ts';
import { createMetadataExchangeFilter, PEER_METADATA_TYPE } from './metadata-exchange-filter.ts';
import { exchangedMetadata, PeerMetadataCodec, peerInfoOf } from './peer-metadata.ts';
import { TcpMetadataExchange } from './tcp-metadata-exchange.ts';
import { HttpTracing } from './http-tracing.ts';
import { createStatsFilter } from './stats-policy.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';

export const STATS_PLUGIN_TYPE = 'stats.PluginConfig';

export interface IstioTelemetryOptions {
  /** The proxy's envoy.config.core.v3.Node (metadata as a protobuf Struct object). */
  node: Obj;
  log: Logger;
  accessLog?: AccessLogOptions;
  /** The service behind a cluster (its `istio.services` metadata). */
  clusterService?: (cluster: string) => ServiceRef | undefined;
  /** A waypoint's workloads by IP (the peers of `reporter="waypoint"` metrics). */
  peers?: PeerLookup;
  /** App metrics to merge on 15020; default from node metadata PROMETHEUS_ANNOTATIONS (JSON). */
  appMetrics?: AppScrapeTarget;
  /** The proxy's clusters: span exporters reach their collectors through them. */
  clusters?: () => ClusterManager;
  /** Environment for `environment` span tags. */
  environment?: Readonly<Record<string, string>>;
  /** ISTIO_KUBE_APP_PROBERS, served on the merged port as `/app-health/...`. */
  appProbers?: ReadonlyMap<string, AppProber>;
  /** Pod IP for the app probes. */
  podIp?: string;
}

/**
 * Istio telemetry for one proxy: the metadata exchange filter, Istio's metrics (own registry),
 * the access log, and the 15020 merged Prometheus endpoint. The proxy composition root calls
 * `registerFilters`, adds `observers`, and serves `prometheusText()` on 15090.
 */
export class IstioTelemetry {
  readonly metrics: IstioMetrics;
  readonly accessLog: AccessLog | undefined;
  readonly codec = new PeerMetadataCodec();
  readonly nodeMetadata: Obj;
  readonly accessLogSinks = new AccessLogSinks();
  /** TCP metadata exchange (ALPN istio-peer-exchange) for tcp_proxy connections. */
  readonly tcpExchange: TcpMetadataExchange;
  /** HCM tracing: sampling, spans, context propagation, exporters. */
  readonly tracing: HttpTracing;
  private readonly hcmAccessLog = new HcmAccessLogObserver();
  private readonly ownValue: string;
  private readonly ownId: string;
  private readonly opts: IstioTelemetryOptions;
  private merged: MergedMetricsServer | undefined;

  constructor(opts: IstioTelemetryOptions) {
    this.opts = opts;
    const md = structToJson(opts.node.metadata);
    this.nodeMetadata = md;
    this.ownValue = this.codec.encode(md);
    this.ownId = typeof opts.node.id === 'string' ? opts.node.id : '';
    this.tcpExchange = new TcpMetadataExchange(md, this.ownId, exchangedMetadata);
    const self = peerInfoOf(md, -1);
    const td = typeof md.MESH_ID === 'string' && md.MESH_ID ? md.MESH_ID : 'cluster.local';
    this.metrics = new IstioMetrics({ self, selfPrincipal: `spiffe://${td}/ns/${self.namespace}/sa/${self.serviceAccount}`, clusterService: opts.clusterService, ...(opts.peers ? { peers: opts.peers } : {}) });
    this.accessLog = opts.accessLog ? new AccessLog(opts.accessLog) : undefined;
    const clusters = opts.clusters;
    const ips = typeof md.INSTANCE_IPS === 'string' ? md.INSTANCE_IPS.split(',')[0]! : '';
    const locality = (opts.node.locality ?? {}) as { zone?: string };
    this.tracing = new HttpTracing(
      () => {
        if (!clusters) throw new Error('tracing needs the proxy clusters');
        return clusters();
      },
      { serviceName: typeof opts.node.cluster === 'string' ? opts.node.cluster : '', ip: ips, nodeId: this.ownId, zone: locality.zone ?? '' },
      opts.environment ?? {},
    );
  }

  get observers(): StreamObserver[] {
    return this.accessLog ? [this.metrics, this.hcmAccessLog, this.tracing, this.accessLog] : [this.metrics, this.hcmAccessLog, this.tracing];
  }

  /** istio.metadata_exchange (peer_metadata) and istio.stats (metrics are recorded by the observer). */
  registerFilters(http: HttpFilterRegistry): void {
    const deps = { codec: this.codec, ownValue: this.ownValue, ownId: this.ownId };
    http.register(PEER_METADATA_TYPE, (name, config) => createMetadataExchangeFilter(name, config, deps));
    http.register(STATS_PLUGIN_TYPE, (name, config, path) => createStatsFilter(name, config, path));
    http.accessLog = (entries, path) => createHcmAccessLogFilter(entries, path, this.accessLogSinks);
    http.tracing = (config, path) => this.tracing.filter(this.tracing.compile(config, path));
  }

  prometheusText(): string {
    return this.metrics.text();
  }

  /** Start the 15020 server merging `proxyMetrics` (the proxy's 15090 content) with the app's. */
  async startMerged(host: string, port: number, proxyMetrics: () => Promise<string> | string): Promise<number> {
    let app = this.opts.appMetrics;
    if (!app && typeof this.nodeMetadata.PROMETHEUS_ANNOTATIONS === 'string') {
      try {
        app = scrapeTargetOf(JSON.parse(this.nodeMetadata.PROMETHEUS_ANNOTATIONS) as Record<string, string>);
      } catch {
        this.opts.log.warn('PROMETHEUS_ANNOTATIONS is not JSON; application metrics are not merged');
      }
    }
    this.merged = new MergedMetricsServer({ proxyMetrics, app, log: this.opts.log, ...(this.opts.appProbers ? { appProbers: this.opts.appProbers } : {}), ...(this.opts.podIp ? { podIp: this.opts.podIp } : {}) });
    return this.merged.listen(host, port);
  }

  close(): void {
    this.merged?.close();
    this.accessLog?.close();
    this.accessLogSinks.close();
    this.tracing.close();
  }
}
