import type { ClusterManager } from '../upstream/cluster-manager.ts';
import type { Cluster } from '../upstream/cluster.ts';
import type { StreamInfo, StreamObserver } from '../l7/stream-info.ts';

/** Proxy-wide counters (plain numbers, no work on the hot path beyond increments). */
export class ProxyStats implements StreamObserver {
  downstreamRqTotal = 0;
  downstreamRq2xx = 0;
  downstreamRq3xx = 0;
  downstreamRq4xx = 0;
  downstreamRq5xx = 0;
  downstreamCxTotal = 0;
  xdsAcks = 0;
  xdsNacks = 0;

  onStreamComplete(info: StreamInfo): void {
    if (info.protocol === 'tcp') {
      this.downstreamCxTotal++;
      return;
    }
    this.downstreamRqTotal++;
    const s = info.responseCode;
    if (s < 300) this.downstreamRq2xx++;
    else if (s < 400) this.downstreamRq3xx++;
    else if (s < 500) this.downstreamRq4xx++;
    else this.downstreamRq5xx++;
  }

  /** Envoy-style `name: value` lines. */
  text(clusters: ClusterManager, extra: readonly string[] = []): string {
    const lines: string[] = [...extra];
    for (const [name, c] of clusters.clusters) {
      const s = c.stats;
      const p = `cluster.${name}.`;
      lines.push(
        `${p}upstream_rq_total: ${s.rqTotal}`, `${p}upstream_rq_2xx: ${s.rq2xx}`, `${p}upstream_rq_3xx: ${s.rq3xx}`,
        `${p}upstream_rq_4xx: ${s.rq4xx}`, `${p}upstream_rq_5xx: ${s.rq5xx}`, `${p}upstream_rq_timeout: ${s.rqTimeout}`,
        `${p}upstream_rq_retry: ${s.rqRetry}`, `${p}upstream_rq_retry_overflow: ${s.rqRetryOverflow}`,
        `${p}upstream_rq_pending_overflow: ${s.rqPendingOverflow}`, `${p}upstream_rq_overflow: ${s.rqOverflow}`,
        `${p}upstream_cx_total: ${s.cxTotal}`, `${p}upstream_cx_connect_fail: ${s.cxConnectFail}`,
        `${p}upstream_cx_overflow: ${s.cxOverflow}`, `${p}upstream_cx_active: ${c.breaker.connections}`,
        `${p}upstream_rq_active: ${c.breaker.requests}`, `${p}upstream_rq_pending_active: ${c.breaker.pending}`,
        `${p}outlier_detection.ejections_total: ${s.outlierEjections}`, `${p}upstream_cx_none_healthy: ${s.noHealthyHost}`,
        `${p}membership_total: ${c.hosts.length}`, `${p}upstream_rq_completed: ${s.rqCompleted}`,
        ...[...s.rqCodes].map(([code, n]) => `${p}upstream_rq_${code}: ${n}`),
      );
      const od = c.outlierDetector;
      if (od) {
        const now = Date.now();
        lines.push(`${p}outlier_detection.ejections_active: ${c.hosts.reduce((n, h) => n + (h.ejectedUntil > now ? 1 : 0), 0)}`);
        for (const [stat, n] of [...od.counters].sort(([a], [b]) => a.localeCompare(b))) lines.push(`${p}outlier_detection.${stat}: ${n}`);
      }
    }
    lines.push(
      `http.downstream_rq_total: ${this.downstreamRqTotal}`, `http.downstream_rq_2xx: ${this.downstreamRq2xx}`,
      `http.downstream_rq_3xx: ${this.downstreamRq3xx}`, `http.downstream_rq_4xx: ${this.downstreamRq4xx}`,
      `http.downstream_rq_5xx: ${this.downstreamRq5xx}`, `tcp.downstream_cx_total: ${this.downstreamCxTotal}`,
      `control_plane.xds_ack: ${this.xdsAcks}`, `control_plane.xds_nack: ${this.xdsNacks}`,
    );
    return `${lines.sort().join('\n')}\n`;
  }

  /** Prometheus exposition of the same counters (envoy_ prefix, cluster as a label). */
  prometheus(clusters: ClusterManager): string {
    const out: string[] = [];
    const metric = (name: string, type: string, rows: [string, number][]): void => {
      out.push(`# TYPE ${name} ${type}`);
      for (const [labels, v] of rows) out.push(`${name}${labels} ${v}`);
    };
    const per = (pick: (c: Cluster) => number): [string, number][] =>
      [...clusters.clusters].map(([n, c]) => [`{envoy_cluster_name="${n.replace(/["\\]/g, '_')}"}`, pick(c)]);
    metric('envoy_cluster_upstream_rq_total', 'counter', per((c) => c.stats.rqTotal));
    metric('envoy_cluster_upstream_rq_retry', 'counter', per((c) => c.stats.rqRetry));
    const classes: [string, number][] = [];
    const codes: [string, number][] = [];
    for (const [n, c] of clusters.clusters) {
      const label = `envoy_cluster_name="${n.replace(/["\\]/g, '_')}"`;
      const s = c.stats;
      for (const [k, v] of [['2', s.rq2xx], ['3', s.rq3xx], ['4', s.rq4xx], ['5', s.rq5xx]] as const) classes.push([`{envoy_response_code_class="${k}",${label}}`, v]);
      for (const [code, v] of s.rqCodes) codes.push([`{envoy_response_code="${code}",${label}}`, v]);
    }
    metric('envoy_cluster_upstream_rq_xx', 'counter', classes);
    metric('envoy_cluster_upstream_rq', 'counter', codes);
    metric('envoy_cluster_upstream_rq_completed', 'counter', per((c) => c.stats.rqCompleted));
    metric('envoy_cluster_upstream_rq_timeout', 'counter', per((c) => c.stats.rqTimeout));
    metric('envoy_cluster_upstream_rq_pending_overflow', 'counter', per((c) => c.stats.rqPendingOverflow));
    metric('envoy_cluster_upstream_cx_total', 'counter', per((c) => c.stats.cxTotal));
    metric('envoy_cluster_upstream_cx_connect_fail', 'counter', per((c) => c.stats.cxConnectFail));
    metric('envoy_cluster_outlier_detection_ejections_total', 'counter', per((c) => c.stats.outlierEjections));
    metric('envoy_cluster_upstream_cx_active', 'gauge', per((c) => c.breaker.connections));
    metric('envoy_cluster_upstream_rq_active', 'gauge', per((c) => c.breaker.requests));
    metric('envoy_http_downstream_rq_total', 'counter', [['', this.downstreamRqTotal]]);
    metric('envoy_http_downstream_rq_xx', 'counter', [
      ['{envoy_response_code_class="2"}', this.downstreamRq2xx], ['{envoy_response_code_class="3"}', this.downstreamRq3xx],
      ['{envoy_response_code_class="4"}', this.downstreamRq4xx], ['{envoy_response_code_class="5"}', this.downstreamRq5xx],
    ]);
    metric('envoy_control_plane_xds_nack', 'counter', [['', this.xdsNacks]]);
    return `${out.join('\n')}\n`;
  }
}
