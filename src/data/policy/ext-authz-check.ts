import type { FilterRequest } from '../l7/http-filter.ts';
import type { StreamInfo } from '../l7/stream-info.ts';
import type { ExtAuthzConfig } from './ext-authz-config.ts';

/**
 * What one ext_authz Check carries and what comes back, independent of the transport (gRPC
 * Authorization/Check or the raw HTTP service): Envoy's CheckRequest attributes built from the
 * stream, and the three outcomes Envoy's filter distinguishes (ok, denied, error).
 */
export interface CheckInput {
  info: StreamInfo;
  /** undefined for the network filter (a TCP connection). */
  request: FilterRequest | undefined;
  body: Buffer | undefined;
  /** The body was cut at with_request_body.max_request_bytes. */
  partialBody: boolean;
  contextExtensions: Record<string, string>;
}

export type CheckResult =
  | {
      kind: 'ok';
      /** Set on the upstream request (override), appended, removed. */
      upstreamSet: [string, string][];
      upstreamAppend: [string, string][];
      upstreamRemove: string[];
      /** Added to the downstream response. */
      clientHeaders: [string, string][];
    }
  | { kind: 'denied'; status: number; body: string; headers: [string, string][] }
  | { kind: 'error'; detail: string };

/** One authorization server a filter talks to (HTTP service or gRPC). */
export interface ExtAuthzClient {
  check(input: CheckInput): Promise<CheckResult>;
}

/** Headers of the stream as Envoy's header map shows them: pseudo headers first, then the rest. */
export function requestHeaderPairs(req: FilterRequest): [string, string][] {
  const out: [string, string][] = [[':authority', req.authority], [':method', req.method], [':path', req.path]];
  const a = req.headers.items;
  for (let i = 0; i < a.length; i += 2) out.push([a[i], a[i + 1]]);
  return out;
}

function socketAddress(address: string, port: number): Record<string, unknown> {
  return { socketAddress: { address, portValue: port } };
}

function splitHostPort(v: string): [string, number] {
  const c = v.lastIndexOf(':');
  if (c <= 0) return [v, 0];
  const host = v.startsWith('[') ? v.slice(1, c - 1) : v.slice(0, c);
  return [host, Number(v.slice(c + 1)) || 0];
}

/**
 * envoy.service.auth.v3.AttributeContext for a check (protobufjs object form): source and
 * destination peers (address, SPIFFE principal), the HTTP request (headers joined per name as
 * Envoy does, filtered by allowed/disallowed headers; gRPC without allowed_headers gets all),
 * the buffered body, context extensions and the metadata namespaces asked for.
 */
export function checkAttributes(cfg: ExtAuthzConfig, input: CheckInput, now: number): Record<string, unknown> {
  const { info, request } = input;
  const [dAddr, dPort] = info.originalDestination ? splitHostPort(info.originalDestination) : [info.downstreamLocalAddress, info.downstreamLocalPort];
  const attrs: Record<string, unknown> = {
    source: { address: socketAddress(info.downstreamRemoteAddress, info.downstreamRemotePort), principal: info.peerPrincipal },
    destination: { address: socketAddress(dAddr, dPort), principal: info.localPrincipal },
    contextExtensions: input.contextExtensions,
  };
  if (cfg.includeTlsSession && info.requestedServerName) attrs.tlsSession = { sni: info.requestedServerName };
  const metadata: Record<string, unknown> = {};
  for (const ns of cfg.metadataContextNamespaces) {
    const md = info.filterState.get(ns);
    if (md && typeof md === 'object') metadata[ns] = toStruct(md as Record<string, unknown>);
  }
  attrs.metadataContext = { filterMetadata: metadata };
  const ms = Math.floor(now);
  const requestAttrs: Record<string, unknown> = { time: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } };
  if (request) {
    const headers: Record<string, string> = {};
    for (const [k, v] of requestHeaderPairs(request)) {
      if (!headerIncluded(cfg, k)) continue;
      headers[k] = headers[k] === undefined ? v : `${headers[k]},${v}`;
    }
    const q = request.path.indexOf('?');
    const http: Record<string, unknown> = {
      id: info.requestId,
      method: request.method,
      headers,
      path: request.path,
      host: request.authority,
      scheme: request.scheme,
      protocol: info.protocol,
      size: String(Number(request.headers.get('content-length') ?? (input.body ? input.body.length : -1))),
    };
    if (q >= 0) http.query = request.path.slice(q + 1);
    if (input.body && input.body.length > 0) {
      if (cfg.withBody?.packAsBytes) http.rawBody = input.body;
      else http.body = input.body.toString('utf8');
    }
    requestAttrs.http = http;
  }
  attrs.request = requestAttrs;
  return attrs;
}

/** Envoy: gRPC sends every header unless allowed_headers is set; HTTP adds its defaults itself; disallowed wins. */
function headerIncluded(cfg: ExtAuthzConfig, name: string): boolean {
  if (cfg.disallowedHeaders?.(name)) return false;
  if (!cfg.allowedHeaders) return true;
  return cfg.allowedHeaders(name);
}

/** Plain JSON → google.protobuf.Struct (protobufjs object form). */
function toStruct(o: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}
