import protobuf from 'protobufjs';
import type { LocalEndpoint, Span } from './span.ts';

/**
 * The part of OpenTelemetry's OTLP trace protocol (opentelemetry.proto.collector.trace.v1)
 * Mizzen sends, declared here by field number: ExportTraceServiceRequest → ResourceSpans →
 * ScopeSpans → Span with attributes and status.
 */
function otlpRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const ns = root.define('otlp');
  ns.add(new protobuf.Type('AnyValue').add(new protobuf.Field('stringValue', 1, 'string')).add(new protobuf.Field('boolValue', 2, 'bool')).add(new protobuf.Field('intValue', 3, 'int64')).add(new protobuf.Field('doubleValue', 4, 'double')));
  ns.add(new protobuf.Type('KeyValue').add(new protobuf.Field('key', 1, 'string')).add(new protobuf.Field('value', 2, 'AnyValue')));
  ns.add(new protobuf.Type('Resource').add(new protobuf.Field('attributes', 1, 'KeyValue', 'repeated')));
  ns.add(new protobuf.Type('InstrumentationScope').add(new protobuf.Field('name', 1, 'string')).add(new protobuf.Field('version', 2, 'string')));
  ns.add(new protobuf.Type('Status').add(new protobuf.Field('message', 2, 'string')).add(new protobuf.Field('code', 3, 'int32')));
  ns.add(
    new protobuf.Type('Span')
      .add(new protobuf.Field('traceId', 1, 'bytes'))
      .add(new protobuf.Field('spanId', 2, 'bytes'))
      .add(new protobuf.Field('traceState', 3, 'string'))
      .add(new protobuf.Field('parentSpanId', 4, 'bytes'))
      .add(new protobuf.Field('name', 5, 'string'))
      .add(new protobuf.Field('kind', 6, 'int32'))
      .add(new protobuf.Field('startTimeUnixNano', 7, 'fixed64'))
      .add(new protobuf.Field('endTimeUnixNano', 8, 'fixed64'))
      .add(new protobuf.Field('attributes', 9, 'KeyValue', 'repeated'))
      .add(new protobuf.Field('status', 15, 'Status')),
  );
  ns.add(new protobuf.Type('ScopeSpans').add(new protobuf.Field('scope', 1, 'InstrumentationScope')).add(new protobuf.Field('spans', 2, 'Span', 'repeated')));
  ns.add(new protobuf.Type('ResourceSpans').add(new protobuf.Field('resource', 1, 'Resource')).add(new protobuf.Field('scopeSpans', 2, 'ScopeSpans', 'repeated')));
  ns.add(new protobuf.Type('ExportTraceServiceRequest').add(new protobuf.Field('resourceSpans', 1, 'ResourceSpans', 'repeated')));
  ns.add(new protobuf.Type('ExportTraceServiceResponse'));
  root.resolveAll();
  return root;
}

let request: protobuf.Type | undefined;

/** OTLP SpanKind: SERVER = 2, CLIENT = 3. */
const KIND = { SERVER: 2, CLIENT: 3 } as const;

const kv = (key: string, value: string): Record<string, unknown> => ({ key, value: { stringValue: value } });

/** Encode spans as one ExportTraceServiceRequest (resource `service.name` = the local service). */
export function encodeExportRequest(spans: readonly Span[], local: LocalEndpoint, serviceName: string): Uint8Array {
  request ??= otlpRoot().lookupType('otlp.ExportTraceServiceRequest');
  // fixed64 nanoseconds from microseconds: exact as a decimal string (BigInt), beyond 2^53
  const toNanos = (us: number): string => (BigInt(Math.round(us)) * 1000n).toString();
  const msg = {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', serviceName || local.serviceName)] },
        scopeSpans: [
          {
            scope: { name: 'envoy', version: 'mizzen' },
            spans: spans.map((s) => ({
              traceId: Buffer.from(s.traceId.padStart(32, '0'), 'hex'),
              spanId: Buffer.from(s.spanId, 'hex'),
              traceState: s.traceState,
              parentSpanId: s.parentId ? Buffer.from(s.parentId, 'hex') : Buffer.alloc(0),
              name: s.name,
              kind: KIND[s.kind],
              startTimeUnixNano: toNanos(s.startUs),
              endTimeUnixNano: toNanos(s.startUs + Math.max(1, s.durationUs)),
              attributes: Object.entries(s.tags).map(([k, v]) => kv(k, v)),
              // OTLP status: ERROR (2) for what Envoy tags error=true, else UNSET
              status: s.tags.error === 'true' ? { code: 2 } : {},
            })),
          },
        ],
      },
    ],
  };
  return request.encode(request.fromObject(msg)).finish();
}

/** Decode an ExportTraceServiceRequest (tests and debugging). */
export function decodeExportRequest(bytes: Uint8Array): Record<string, unknown> {
  request ??= otlpRoot().lookupType('otlp.ExportTraceServiceRequest');
  return request.toObject(request.decode(bytes), { longs: String, bytes: String }) as Record<string, unknown>;
}
