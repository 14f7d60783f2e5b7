import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { StreamInfo, StreamObserver } from '../l7/stream-info.ts';
import { telemetryRecord } from './metadata-exchange-filter.ts';

/** Istio's default text access log format (meshConfig.accessLogFormat unset). */
export const ISTIO_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% ' +
  '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/** Istio's default JSON access log fields (meshConfig.accessLogEncoding: JSON). */
export const ISTIO_JSON_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%', method: '%REQ(:METHOD)%', path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%', response_flags: '%RESPONSE_FLAGS%', response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%', upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
  bytes_received: '%BYTES_RECEIVED%', bytes_sent: '%BYTES_SENT%', duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%', x_forwarded_for: '%REQ(X-FORWARDED-FOR)%', user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%', authority: '%REQ(:AUTHORITY)%', upstream_host: '%UPSTREAM_HOST%', upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%', downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%', requested_server_name: '%REQUESTED_SERVER_NAME%', route_name: '%ROUTE_NAME%',
};

/** One command operator: its value for a stream (undefined / '' → `-` in text, null in JSON). */
/** A command operator's value: JSON logs keep numbers, booleans and objects typed (Envoy's typed JSON). */
type Operator = (info: StreamInfo) => string | number | boolean | object | undefined;

function addr(ip: string, port: number): string {
  if (!ip) return '';
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function reqHeader(name: string): Operator {
  switch (name) {
    case ':method': return (i) => i.method;
    case ':path': return (i) => i.path;
    case ':authority': case 'host': return (i) => i.authority;
    case ':scheme': return (i) => i.scheme;
    case 'user-agent': return (i) => i.userAgent;
    case 'x-request-id': return (i) => i.requestId || telemetryRecord(i)?.requestId;
    case 'x-forwarded-for': return (i) => telemetryRecord(i)?.forwardedFor;
    case 'x-envoy-original-path': return (i) => telemetryRecord(i)?.originalPath;
    default: return () => undefined;
  }
}

/** Compile one `%OPERATOR%` (the subset StreamInfo can answer; others print `-`). */
function operator(op: string): Operator {
  const req = /^REQ\(([^)]+)\)(?::\d+)?$/.exec(op);
  if (req) {
    const alts = req[1].split('?').map((s) => s.toLowerCase());
    const ops = alts.map(reqHeader);
    return (i) => {
      for (const o of ops) {
        const v = o(i);
        if (v !== undefined && v !== '') return v;
      }
      return undefined;
    };
  }
  const md = /^DYNAMIC_METADATA\(([^)]+)\)(?::(\d+))?$/.exec(op);
  if (md) return dynamicMetadata(md[1], md[2] === undefined ? undefined : Number(md[2]));
  if (/^RESP\(X-ENVOY-UPSTREAM-SERVICE-TIME\)$/i.test(op)) return (i) => (i.upstreamServiceTimeMs >= 0 ? i.upstreamServiceTimeMs : undefined);
  switch (op) {
    case 'START_TIME': return (i) => new Date(i.startTime).toISOString();
    case 'PROTOCOL': return (i) => (i.protocol === 'tcp' ? undefined : i.protocol);
    case 'RESPONSE_CODE': return (i) => i.responseCode;
    case 'RESPONSE_FLAGS': return (i) => i.responseFlags;
    case 'RESPONSE_CODE_DETAILS': return (i) => i.responseCodeDetails;
    case 'UPSTREAM_TRANSPORT_FAILURE_REASON': return (i) => i.upstreamTransportFailureReason;
    case 'BYTES_RECEIVED': return (i) => i.bytesReceived;
    case 'BYTES_SENT': return (i) => i.bytesSent;
    case 'DURATION': return (i) => Math.round(i.durationMs());
    case 'UPSTREAM_HOST': return (i) => i.upstreamHost;
    case 'UPSTREAM_CLUSTER': case 'UPSTREAM_CLUSTER_RAW': return (i) => i.clusterName;
    case 'DOWNSTREAM_LOCAL_ADDRESS': return (i) => (i.originalDestination || addr(i.downstreamLocalAddress, i.downstreamLocalPort));
    case 'DOWNSTREAM_REMOTE_ADDRESS': return (i) => addr(i.downstreamRemoteAddress, i.downstreamRemotePort);
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT': return (i) => i.downstreamRemoteAddress;
    case 'REQUESTED_SERVER_NAME': return (i) => i.requestedServerName;
    case 'ROUTE_NAME': return (i) => i.routeName;
    case 'DOWNSTREAM_PEER_URI_SAN': return (i) => i.peerPrincipal;
    case 'DOWNSTREAM_LOCAL_URI_SAN': return (i) => i.localPrincipal;
    case 'UPSTREAM_REQUEST_ATTEMPT_COUNT': return (i) => i.attemptCount;
    default: return () => undefined;
  }
}

/**
 * `%DYNAMIC_METADATA(NAMESPACE:KEY*)%[:Z]`: a value from the stream's dynamic metadata (e.g.
 * `envoy.common:access_log_hint`, set when an AUDIT policy matched), as Envoy prints it: in text,
 * strings as they are and other values as JSON; in JSON logs typed; `:Z` truncates to a string.
 */
function dynamicMetadata(spec: string, maxLength: number | undefined): Operator {
  const [ns, ...path] = spec.split(':');
  return (i) => {
    let v: unknown = i.filterState.get(ns!);
    for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    if (v === undefined || v === null) return undefined;
    if (maxLength === undefined) return v as string | number | boolean | object;
    return (typeof v === 'string' ? v : JSON.stringify(v)).slice(0, maxLength);
  };
}

/** A compiled text format: literal parts interleaved with operators. */
export function compileTextFormat(format: string): (info: StreamInfo) => string {
  const parts: (string | Operator)[] = [];
  const re = /%([A-Z_]+(?:\([^)]*\))?(?::\d+)?)%/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    if (m.index > last) parts.push(format.slice(last, m.index));
    parts.push(operator(m[1]));
    last = m.index + m[0].length;
  }
  if (last < format.length) parts.push(format.slice(last));
  return (info) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const v = p(info);
        out += v === undefined || v === '' ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      }
    }
    return out;
  };
}

export function compileJsonFormat(fields: Readonly<Record<string, string>>): (info: StreamInfo) => string {
  const entries = Object.entries(fields).map(([k, f]) => {
    const m = /^%([^%]+)%$/.exec(f);
    return [k, m ? operator(m[1]) : () => f] as const;
  });
  return (info) => {
    const o: Record<string, unknown> = {};
    for (const [k, op] of entries) {
      const v = op(info);
      o[k] = v === undefined || v === '' ? null : v;
    }
    return `${JSON.stringify(o)}\n`;
  };
}

export interface AccessLogOptions {
  /** File path; `/dev/stdout` (Istio's default) writes to this process's stdout. */
  path: string;
  encoding?: 'TEXT' | 'JSON';
  /** Custom text format (Envoy command operators); Istio's default when absent. */
  format?: string;
  /** Test hook: write here instead of `path`. */
  sink?: Writable;
}

/**
 * One line per finished request (or TCP connection) in Istio's default format or JSON, as
 * meshConfig.accessLogFile / accessLogEncoding / accessLogFormat ask.
 */
export class AccessLog implements StreamObserver {
  private readonly out: Writable;
  private readonly owned: WriteStream | undefined;
  private readonly format: (info: StreamInfo) => string;

  constructor(opts: AccessLogOptions) {
    if (opts.sink) this.out = opts.sink;
    else if (opts.path === '/dev/stdout') this.out = process.stdout;
    else if (opts.path === '/dev/stderr') this.out = process.stderr;
    else {
      this.owned = createWriteStream(opts.path, { flags: 'a' });
      this.owned.on('error', () => undefined);
      this.out = this.owned;
    }
    if (opts.encoding === 'JSON') this.format = compileJsonFormat(ISTIO_JSON_FIELDS);
    else {
      const f = opts.format ?? ISTIO_TEXT_FORMAT;
      this.format = compileTextFormat(f.endsWith('\n') ? f : `${f}\n`);
    }
  }

  onStreamComplete(info: StreamInfo): void {
    this.out.write(this.format(info));
  }

  close(): void {
    this.owned?.end();
  }
}
