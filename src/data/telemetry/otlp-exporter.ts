import type { ClientHttp2Session } from 'node:http2';
import { Http2UpstreamPool } from '../l7/http2-upstream-pool.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { postToCluster } from './cluster-post.ts';
import { encodeExportRequest } from './otlp-messages.ts';
import type { LocalEndpoint, Span } from './span.ts';
import { SpanBatcher, type ExporterStats } from './span-batcher.ts';

export interface OtlpExporterOptions {
  clusters: ClusterManager;
  cluster: string;
  /** gRPC authority, or the HTTP Host. */
  authority: string;
  /** 'grpc' (TraceService/Export) or 'http' (POST protobuf to `path`). */
  transport: 'grpc' | 'http';
  path: string;
  serviceName: string;
  local: LocalEndpoint;
  headers?: readonly [string, string][];
  timeoutMs?: number;
  flushSpans?: number;
  flushIntervalMs?: number;
  maxPending?: number;
}

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/**
 * Envoy's OpenTelemetry tracer export: batches of spans as an OTLP ExportTraceServiceRequest,
 * over gRPC (an HTTP/2 session to a collector host, unary Export) or OTLP/HTTP (protobuf POST),
 * through the proxy's cluster to the collector.
 */
export class OtlpExporter {
  private readonly batcher: SpanBatcher;
  private readonly pool = new Http2UpstreamPool();
  private readonly o: OtlpExporterOptions;

  constructor(o: OtlpExporterOptions) {
    this.o = o;
    this.batcher = new SpanBatcher({
      flushSpans: o.flushSpans ?? 100,
      flushIntervalMs: o.flushIntervalMs ?? 1000,
      maxPending: o.maxPending ?? 10_000,
      send: (batch) => this.send(Buffer.from(encodeExportRequest(batch, o.local, o.serviceName))),
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

  private async send(body: Buffer): Promise<boolean> {
    const o = this.o;
    const timeout = o.timeoutMs && o.timeoutMs > 0 ? o.timeoutMs : 5000;
    if (o.transport === 'http') {
      const status = await postToCluster(o.clusters, o.cluster, o.authority, o.path, 'application/x-protobuf', body, timeout);
      return status >= 200 && status < 300;
    }
    const cluster = o.clusters.get(o.cluster);
    const host = cluster?.pick(undefined, undefined);
    if (!cluster || !host) return false;
    const session = await new Promise<ClientHttp2Session | undefined>((resolve) => this.pool.get(cluster, host, (s) => resolve(s)));
    if (!session) return false;
    return new Promise<boolean>((resolve) => {
      const frame = Buffer.allocUnsafe(5 + body.length);
      frame[0] = 0;
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      const headers: Record<string, string> = { ':method': 'POST', ':path': EXPORT_PATH, ':authority': o.authority, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${timeout}m` };
      for (const [k, v] of o.headers ?? []) headers[k.toLowerCase()] = v;
      let stream;
      try {
        stream = session.request(headers);
      } catch {
        resolve(false);
        return;
      }
      let status: string | undefined;
      stream.on('response', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      stream.on('trailers', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      stream.on('data', () => undefined);
      stream.on('error', () => resolve(false));
      stream.on('close', () => resolve(status === '0'));
      stream.setTimeout(timeout, () => stream.close());
      stream.end(frame);
    });
  }

  close(): void {
    this.batcher.close();
    this.pool.close();
  }
}
