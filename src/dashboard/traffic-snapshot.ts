import { parseExposition } from '../lib/prometheus-exposition.ts';

/** The Istio labels a series is kept by (the rest, e.g. `source_principal`, are summed away). */
export const SERIES_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_app',
  'source_version',
  'source_canonical_service',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_workload',
  'destination_workload_namespace',
  'destination_app',
  'destination_version',
  'destination_canonical_service',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

export type SeriesLabels = Record<(typeof SERIES_LABELS)[number], string>;

/** Counters of one series, as one scrape of one proxy reports them (all monotonic). */
export interface SeriesCounters {
  labels: SeriesLabels;
  requests: number;
  /** istio_request_duration_milliseconds cumulative bucket counts by upper bound (`le`). */
  durationBuckets: Map<number, number>;
  tcpSent: number;
  tcpReceived: number;
  tcpOpened: number;
}

const FAMILIES = new Set([
  'istio_requests_total',
  'istio_request_duration_milliseconds_bucket',
  'istio_tcp_sent_bytes_total',
  'istio_tcp_received_bytes_total',
  'istio_tcp_connections_opened_total',
]);

function keyOf(labels: Record<string, string>): { key: string; kept: SeriesLabels } {
  const kept = {} as SeriesLabels;
  for (const l of SERIES_LABELS) kept[l] = labels[l] ?? '';
  return { key: SERIES_LABELS.map((l) => kept[l]).join('\u0000'), kept };
}

/**
 * One proxy's Istio metrics from its Prometheus text (15020 or 15090), by series key: requests,
 * duration histogram, TCP bytes and connections. Samples that differ only in labels outside
 * SERIES_LABELS are added together.
 */
export function trafficSnapshot(text: string): Map<string, SeriesCounters> {
  const out = new Map<string, SeriesCounters>();
  for (const s of parseExposition(text, (n) => FAMILIES.has(n))) {
    const { key, kept } = keyOf(s.labels);
    let c = out.get(key);
    if (!c) out.set(key, (c = { labels: kept, requests: 0, durationBuckets: new Map(), tcpSent: 0, tcpReceived: 0, tcpOpened: 0 }));
    switch (s.name) {
      case 'istio_requests_total':
        c.requests += s.value;
        break;
      case 'istio_request_duration_milliseconds_bucket': {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        if (!Number.isNaN(le)) c.durationBuckets.set(le, (c.durationBuckets.get(le) ?? 0) + s.value);
        break;
      }
      case 'istio_tcp_sent_bytes_total':
        c.tcpSent += s.value;
        break;
      case 'istio_tcp_received_bytes_total':
        c.tcpReceived += s.value;
        break;
      case 'istio_tcp_connections_opened_total':
        c.tcpOpened += s.value;
        break;
    }
  }
  return out;
}
