import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { postToCluster } from './cluster-post.ts';
import type { LocalEndpoint, Span } from './span.ts';
import { SpanBatcher, type ExporterStats } from './span-batcher.ts';

export interface ZipkinExporterOptions {
  clusters: ClusterManager;
  /** collector_cluster, collector_hostname (Host header), collector_endpoint. */
  cluster: string;
  hostname: string;
  path: string;
  local: LocalEndpoint;
  flushSpans?: number;
  flushIntervalMs?: number;
  maxPending?: number;
}

/** One span in Zipkin's v2 JSON model (what Envoy's HTTP_JSON collector version sends). */
export function zipkinJson(s: Span, local: LocalEndpoint): Record<string, unknown> {
  const out: Record<string, unknown> = { traceId: s.traceId, id: s.spanId };
  if (s.parentId) out.parentId = s.parentId;
  out.name = s.name;
  out.kind = s.kind;
  out.timestamp = s.startUs;
  out.duration = Math.max(1, s.durationUs);
  const ep: Record<string, unknown> = { serviceName: local.serviceName };
  if (local.ip.includes(':')) ep.ipv6 = local.ip;
  else if (local.ip) ep.ipv4 = local.ip;
  out.localEndpoint = ep;
  out.tags = s.tags;
  return out;
}

/**
 * Envoy's Zipkin reporter: spans batched and POSTed as a v2 JSON array to the collector
 * cluster's `collector_endpoint` (`/api/v2/spans`), through the proxy's own cluster.
 */
export class ZipkinExporter {
  private readonly batcher: SpanBatcher;

  constructor(o: ZipkinExporterOptions) {
    this.batcher = new SpanBatcher({
      flushSpans: o.flushSpans ?? 100,
      flushIntervalMs: o.flushIntervalMs ?? 1000,
      maxPending: o.maxPending ?? 10_000,
      send: async (batch) => {
        const body = Buffer.from(JSON.stringify(batch.map((s) => zipkinJson(s, o.local))));
        const status = await postToCluster(o.clusters, o.cluster, o.hostname, o.path, 'application/json', body, 5000);
        return status === 202 || status === 200;
      },
    });
  }

  get stats(): ExporterStats {
    return this.batcher.stats;
  }

  report(span: Span): void {
    this.batcher.report(span);
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  close(): void {
    this.batcher.close();
  }
}
