import type { StreamInfo, StreamObserver } from '../l7/stream-info.ts';
import { buildLabels, factsKey, factsOf, serviceOfClusterName, UNKNOWN_PEER, type IstioLabels, type LabelFacts, type PeerLookup, type ServiceRef } from './istio-labels.ts';
import { telemetryRecord } from './metadata-exchange-filter.ts';
import type { PeerInfo } from './peer-metadata.ts';
import { formatLabels, PrometheusText, type HistogramSample, type ValueSample } from './prometheus-text.ts';
import { evalCel, streamAttributes } from './cel-attributes.ts';
import { STATS_HEADERS_KEY, STATS_KEY, type MetricPolicy, type StatsPolicy } from './stats-policy.ts';

/** Istio's istio_request_duration_milliseconds buckets. */
export const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Istio's request/response size buckets (bytes). */
export const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

class Histo {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(n: number) {
    this.counts = new Array<number>(n + 1).fill(0);
  }

  observe(bounds: readonly number[], v: number): void {
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

/** One label set and everything recorded under it (plain numbers: the hot path only adds). */
class Series {
  readonly labels: IstioLabels | Omit<IstioLabels, 'response_code' | 'grpc_response_status'>;
  requests = 0;
  readonly duration = new Histo(DURATION_BUCKETS.length);
  readonly requestBytes = new Histo(BYTES_BUCKETS.length);
  readonly responseBytes = new Histo(BYTES_BUCKETS.length);
  tcpSent = 0;
  tcpReceived = 0;
  tcpOpened = 0;
  tcpClosed = 0;
  private labelText: string | undefined;

  constructor(labels: Series['labels']) {
    this.labels = labels;
  }

  /** The label set in exposition form, formatted on the first scrape. */
  get text(): string {
    this.labelText ??= formatLabels(this.labels);
    return this.labelText;
  }
}

/** One metric family of the exposition, read from the series store at scrape time. */
type Family = (out: PrometheusText, series: Iterable<Series>) => void;

export interface IstioMetricsOptions {
  /** This workload (the proxy's node metadata). */
  self: PeerInfo;
  /** Our SPIFFE identity. */
  selfPrincipal: string;
  /** The service a cluster fronts (cluster metadata `istio.services`), undefined when unknown. */
  clusterService?: (cluster: string) => ServiceRef | undefined;
  /** Bound on distinct label sets (beyond it new sets fold into one overflow series). */
  maxSeries?: number;
  /** A waypoint's workloads by IP (its source and destination labels). */
  peers?: PeerLookup;
}

/**
 * Istio's standard metrics for one proxy (Prometheus text written by prometheus-text.ts): istio_requests_total,
 * istio_request_duration_milliseconds, istio_request_bytes, istio_response_bytes (HTTP) and
 * istio_tcp_{sent,received}_bytes_total, istio_tcp_connections_{opened,closed}_total (TCP),
 * reporter `destination` on inbound and `source` otherwise. Per stream the cost is one cache
 * lookup (label sets are built once per distinct peer/service/code/flags) and a few additions.
 */
export class IstioMetrics implements StreamObserver {
  private readonly families: Family[] = [];
  private readonly series = new Map<string, Series>();
  private readonly opts: IstioMetricsOptions;
  private readonly facts: LabelFacts = {
    inbound: false, waypoint: false, source: UNKNOWN_PEER, destination: UNKNOWN_PEER, sourcePrincipal: '', destinationPrincipal: '', service: undefined,
    protocol: 'http', code: '', grpcStatus: '', flags: '', security: 'unknown', principalNamespace: '',
  };
  private readonly services = new Map<string, ServiceRef | undefined>();
  private readonly maxSeries: number;

  constructor(opts: IstioMetricsOptions) {
    this.opts = opts;
    this.maxSeries = opts.maxSeries ?? 20_000;
    const http = (s: Series): boolean => s.labels.request_protocol !== 'tcp';
    const tcp = (s: Series): boolean => s.labels.request_protocol === 'tcp';
    this.counter('istio_requests_total', 'Total requests.', (s) => http(s) && s.requests > 0, (s) => s.requests);
    this.histogram('istio_request_duration_milliseconds', 'Request duration in milliseconds.', DURATION_BUCKETS, http, (s) => s.duration);
    this.histogram('istio_request_bytes', 'Request sizes in bytes.', BYTES_BUCKETS, http, (s) => s.requestBytes);
    this.histogram('istio_response_bytes', 'Response sizes in bytes.', BYTES_BUCKETS, http, (s) => s.responseBytes);
    this.counter('istio_tcp_sent_bytes_total', 'Bytes sent to the downstream during TCP connections.', tcp, (s) => s.tcpSent);
    this.counter('istio_tcp_received_bytes_total', 'Bytes received from the downstream during TCP connections.', tcp, (s) => s.tcpReceived);
    this.counter('istio_tcp_connections_opened_total', 'TCP connections opened.', tcp, (s) => s.tcpOpened);
    this.counter('istio_tcp_connections_closed_total', 'TCP connections closed.', tcp, (s) => s.tcpClosed);
  }

  /** Series of one metric whose labels a Telemetry override changed (by metric, then label text). */
  private readonly overridden = new Map<string, Map<string, Series>>();

  private counter(name: string, help: string, filter: (s: Series) => boolean, value: (s: Series) => number): void {
    this.families.push((out, series) => {
      const values: ValueSample[] = [];
      for (const s of series) if (filter(s)) values.push({ labels: s.text, value: value(s) });
      for (const s of this.overridden.get(name)?.values() ?? []) if (value(s) > 0) values.push({ labels: s.text, value: value(s) });
      out.counter(name, help, values);
    });
  }

  private histogram(name: string, help: string, bounds: readonly number[], filter: (s: Series) => boolean, pick: (s: Series) => Histo): void {
    this.families.push((out, series) => {
      const values: HistogramSample[] = [];
      for (const s of [...series, ...(this.overridden.get(name)?.values() ?? [])]) {
        if (!filter(s)) continue;
        const h = pick(s);
        if (h.count > 0) values.push({ labels: s.text, counts: h.counts, sum: h.sum, count: h.count });
      }
      out.histogram(name, help, bounds, values);
    });
  }

  /**
   * The service behind a cluster: asked of the live cluster every time (a cluster that did not
   * exist yet, or whose metadata a CDS update changed, must not stay unknown), else parsed from
   * the name (a pure function of it, so cached).
   */
  private serviceOf(cluster: string): ServiceRef | undefined {
    const live = this.opts.clusterService?.(cluster);
    if (live) return live;
    if (this.services.has(cluster)) return this.services.get(cluster);
    const svc = serviceOfClusterName(cluster);
    if (this.services.size > 4096) this.services.clear();
    this.services.set(cluster, svc);
    return svc;
  }

  /** The series for a finished stream (created on first sight of its label set). */
  private seriesFor(info: StreamInfo, waypoint = false): Series {
    const rec = telemetryRecord(info);
    let svc = this.serviceOf(info.clusterName);
    if (!svc && info.protocol !== 'tcp' && info.authority) {
      // no cluster metadata: Istio falls back to the host header
      const host = info.authority.replace(/:\d+$/, '');
      const parts = host.split('.');
      // A request the inbound side answered itself (RBAC 403, a fault) reached a service of this
      // workload: a short host is in the workload's own namespace, as Kubernetes resolves it.
      const shortName = parts.length === 1 || (parts.length === 2 && info.direction === 'INBOUND');
      const namespace = parts.length >= 3 && parts[2] === 'svc' ? parts[1] : info.direction === 'INBOUND' && shortName ? (parts[1] ?? this.opts.self.namespace) : 'unknown';
      svc = { host, name: parts[0], namespace };
    }
    const f = factsOf(this.facts, info, rec, this.opts.self, this.opts.selfPrincipal, svc, waypoint ? { peers: this.opts.peers } : undefined);
    const key = factsKey(f);
    let s = this.series.get(key);
    if (!s) {
      const labels = buildLabels(f);
      if (info.protocol === 'tcp') {
        const { response_code: _c, grpc_response_status: _g, ...rest } = labels;
        s = new Series(rest);
      } else s = new Series(labels);
      if (this.series.size < this.maxSeries) this.series.set(key, s);
    }
    return s;
  }

  onStreamStart(info: StreamInfo): void {
    if (info.protocol !== 'tcp' || (info.direction === 'UNSPECIFIED' && info.listenerName === '')) return;
    this.seriesFor(info).tcpOpened++;
  }

  onStreamComplete(info: StreamInfo): void {
    if (info.direction === 'UNSPECIFIED' && info.listenerName === '') return;
    if (info.protocol === 'tcp') {
      const s = this.seriesFor(info);
      s.tcpClosed++;
      s.tcpSent += info.bytesSent;
      s.tcpReceived += info.bytesReceived;
      return;
    }
    // HTTP metrics come from the HCM's istio.stats filter (absent: Telemetry turned them off)
    const policy = info.filterState.get(STATS_KEY) as StatsPolicy | undefined;
    if (!policy) return;
    const s = this.seriesFor(info, policy.waypoint);
    if (policy.metrics.size === 0) {
      s.requests++;
      s.duration.observe(DURATION_BUCKETS, Math.max(0, info.durationMs()));
      s.requestBytes.observe(BYTES_BUCKETS, info.bytesReceived);
      s.responseBytes.observe(BYTES_BUCKETS, info.bytesSent);
      return;
    }
    let vars: Record<string, unknown> | undefined;
    const target = (metric: string): Series | undefined => {
      const p = policy.metrics.get(metric);
      if (!p) return s;
      if (p.drop) return undefined;
      vars ??= streamAttributes(info, info.filterState.get(STATS_HEADERS_KEY) as Record<string, string> | undefined);
      return this.overrideSeries(`istio_${metric}`, s, p, vars);
    };
    const rq = target('requests_total');
    if (rq) rq.requests++;
    target('request_duration_milliseconds')?.duration.observe(DURATION_BUCKETS, Math.max(0, info.durationMs()));
    target('request_bytes')?.requestBytes.observe(BYTES_BUCKETS, info.bytesReceived);
    target('response_bytes')?.responseBytes.observe(BYTES_BUCKETS, info.bytesSent);
  }

  /** The series of `metric` with a Telemetry override's labels (removed tags, CEL dimensions). */
  private overrideSeries(metric: string, base: Series, p: MetricPolicy, vars: Record<string, unknown>): Series {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(base.labels)) if (!p.remove.has(k)) labels[k] = v;
    for (const [k, prog] of p.dimensions) {
      const v = evalCel(prog, vars);
      labels[k] = v === undefined || v === null ? 'unknown' : String(v);
    }
    const text = formatLabels(labels);
    let byText = this.overridden.get(metric);
    if (!byText) {
      byText = new Map();
      this.overridden.set(metric, byText);
    }
    let s = byText.get(text);
    if (!s) {
      s = new Series(labels as unknown as IstioLabels);
      if (byText.size < this.maxSeries) byText.set(text, s);
    }
    return s;
  }

  /** Prometheus text exposition of the Istio metrics. */
  text(): string {
    const out = new PrometheusText();
    for (const f of this.families) f(out, this.series.values());
    return out.text();
  }
}
