/** Span kinds as Zipkin v2 and OTLP name them. */
export type SpanKind = 'CLIENT' | 'SERVER';

/**
 * One finished (or finishing) span: ids as lowercase hex (trace id 16 or 32 characters), times
 * in microseconds since the epoch, tags as Envoy sets them. Exporters serialize it.
 */
export class Span {
  traceId = '';
  spanId = '';
  /** '' for a root span. */
  parentId = '';
  name = '';
  kind: SpanKind = 'SERVER';
  sampled = false;
  startUs = 0;
  durationUs = 0;
  /** W3C tracestate passed through (OpenTelemetry). */
  traceState = '';
  tags: Record<string, string> = {};
}

/** Who reports spans: the local service (node cluster, `NAME.NAMESPACE`) and address. */
export interface LocalEndpoint {
  serviceName: string;
  ip: string;
  nodeId: string;
  zone: string;
}
