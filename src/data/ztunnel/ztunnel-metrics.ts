import { formatLabels, PrometheusText } from '../telemetry/prometheus-text.ts';
import type { ZService, ZWorkload } from './workload-model.ts';

/**
 * ztunnel's connection metrics (zt:src/proxy/metrics.rs), with its names and label set:
 * `istio_tcp_connections_opened_total`, `_closed_total`, `istio_tcp_received_bytes_total`,
 * `istio_tcp_sent_bytes_total`, `istio_tcp_connections_failed_total`, gauge
 * `istio_tcp_sockets_open`; labels reporter, source_* and destination_* workload attributes,
 * destination_service*, request_protocol, response_flags, connection_security_policy, then
 * source_/destination_ region and zone when a workload is known (missing values are `unknown`). Plus the in-pod workload manager gauges and counters.
 */
export type Reporter = 'source' | 'destination';
export type ResponseFlag = '-' | 'DENY' | 'CONNECT' | 'TLS_FAILURE' | 'H2_HANDSHAKE_FAILURE' | 'NETWORK_POLICY' | 'IDENTITY_ERROR';

export interface ConnectionLabels {
  reporter: Reporter;
  source: ZWorkload | undefined;
  /** The peer's mTLS identity (source_principal). */
  sourcePrincipal: string | undefined;
  destination: ZWorkload | undefined;
  destinationService: ZService | undefined;
  mtls: boolean;
}

const U = 'unknown';

/** The metric series of one connection: label text per response flag, cached. */
export class ConnectionSeries {
  readonly labels: ConnectionLabels;
  private readonly base: Record<string, string>;
  private readonly locality: Record<string, string>;

  constructor(labels: ConnectionLabels) {
    this.labels = labels;
    const s = labels.source;
    const d = labels.destination;
    const svc = labels.destinationService;
    this.base = {
      reporter: labels.reporter,
      source_workload: s?.workloadName || U,
      source_canonical_service: s?.canonicalName || U,
      source_canonical_revision: s?.canonicalRevision || U,
      source_workload_namespace: s?.namespace || U,
      source_principal: labels.sourcePrincipal ?? U,
      source_app: s?.canonicalName || U,
      source_version: s?.canonicalRevision || U,
      source_cluster: s?.clusterId || U,
      destination_service: svc?.hostname || U,
      destination_service_namespace: svc?.namespace || U,
      destination_service_name: svc?.name || U,
      destination_workload: d?.workloadName || U,
      destination_canonical_service: d?.canonicalName || U,
      destination_canonical_revision: d?.canonicalRevision || U,
      destination_workload_namespace: d?.namespace || U,
      destination_principal: d?.identity || U,
      destination_app: d?.canonicalName || U,
      destination_version: d?.canonicalRevision || U,
      destination_cluster: d?.clusterId || U,
      request_protocol: 'tcp',
    };
    // ztunnel (since 1.26) appends the localities once either workload is known
    this.locality = s || d ? { source_region: s?.locality?.region || U, source_zone: s?.locality?.zone || U, destination_region: d?.locality?.region || U, destination_zone: d?.locality?.zone || U } : {};
  }

  key(flag: ResponseFlag): string {
    return formatLabels({ ...this.base, response_flags: flag, connection_security_policy: this.labels.mtls ? 'mutual_tls' : 'unknown', ...this.locality });
  }
}

export class ZtunnelMetrics {
  readonly opened = new Map<string, number>();
  readonly closed = new Map<string, number>();
  readonly failed = new Map<string, number>();
  readonly sent = new Map<string, number>();
  readonly received = new Map<string, number>();
  readonly socketsOpen = new Map<Reporter, number>([['source', 0], ['destination', 0]]);
  readonly dns = { requests: 0, upstreamRequests: 0, upstreamFailures: 0 };
  activeProxies = 0;
  pendingProxies = 0;
  proxiesStarted = 0;
  proxiesStopped = 0;

  add(map: Map<string, number>, key: string, n: number): void {
    map.set(key, (map.get(key) ?? 0) + n);
  }

  render(): string {
    const samples = (m: Map<string, number>) => [...m].map(([labels, value]) => ({ labels, value }));
    return new PrometheusText()
      .counter('istio_tcp_connections_opened_total', 'The total number of TCP connections opened', samples(this.opened))
      .counter('istio_tcp_connections_closed_total', 'The total number of TCP connections closed', samples(this.closed))
      .counter('istio_tcp_received_bytes_total', 'The size of total bytes received during request in case of a TCP connection', samples(this.received))
      .counter('istio_tcp_sent_bytes_total', 'The size of total bytes sent during response in case of a TCP connection', samples(this.sent))
      .counter('istio_tcp_connections_failed_total', 'The total number of TCP connections that failed to establish (unstable)', samples(this.failed))
      .gauge('istio_tcp_sockets_open', 'The current number of open TCP sockets (unstable)', [...this.socketsOpen].map(([r, value]) => ({ labels: formatLabels({ reporter: r }), value })))
      .counter('istio_dns_requests_total', 'Total number of DNS requests', [{ labels: '', value: this.dns.requests }])
      .counter('istio_dns_upstream_requests_total', 'Total number of DNS requests forwarded to upstream', [{ labels: '', value: this.dns.upstreamRequests }])
      .counter('istio_dns_upstream_failures_total', 'Total number of DNS requests that failed upstream', [{ labels: '', value: this.dns.upstreamFailures }])
      .gauge('workload_manager_active_proxy_count', 'The total number current workloads with active proxies', [{ labels: '', value: this.activeProxies }])
      .gauge('workload_manager_pending_proxy_count', 'The total number current workloads with pending proxies', [{ labels: '', value: this.pendingProxies }])
      .counter('workload_manager_proxies_started_total', 'The total number of proxies that were started', [{ labels: '', value: this.proxiesStarted }])
      .counter('workload_manager_proxies_stopped_total', 'The total number of proxies that were stopped', [{ labels: '', value: this.proxiesStopped }])
      .text();
  }
}
