import { evaluateCelWith } from '../../lib/cel/cel-evaluator.ts';
import { CelSyntaxError, parseCel, type CelNode } from '../../lib/cel/cel-parser.ts';
import type { StreamInfo } from '../l7/stream-info.ts';
import { reject } from '../xds-client/resource-rejection.ts';
import { telemetryRecord } from './metadata-exchange-filter.ts';
import type { PeerInfo } from './peer-metadata.ts';

/** A compiled CEL expression over Envoy's attributes (access log filters, metric dimensions). */
export interface CelProgram {
  readonly source: string;
  readonly node: CelNode;
  /** Does it read request headers (they are captured at decode time only then)? */
  readonly readsHeaders: boolean;
}

/** Parse a CEL expression from xDS, rejecting the resource (NACK) when it does not parse. */
export function compileCel(expression: string, path: string): CelProgram {
  try {
    return { source: expression, node: parseCel(expression), readsHeaders: /\bheaders\b/.test(expression) };
  } catch (err) {
    if (err instanceof CelSyntaxError) return reject(path, `invalid CEL expression ${JSON.stringify(expression)}: ${err.message}`);
    throw err;
  }
}

function peer(p: PeerInfo | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined;
  return { workload_name: p.workload, namespace: p.namespace, app: p.app, version: p.version, service: p.canonicalService, revision: p.canonicalRevision, cluster_id: p.cluster, labels: { app: p.app, version: p.version } };
}

function hostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return i < 0 ? [s, 0] : [s.slice(0, i).replace(/^\[|\]$/g, ''), Number(s.slice(i + 1))];
}

/**
 * Envoy's attributes of a finished stream as CEL variables (`request`, `response`, `source`,
 * `destination`, `connection`, `upstream`, `upstream_peer`, `downstream_peer`), the subset
 * StreamInfo knows; request headers only when captured.
 */
export function streamAttributes(info: StreamInfo, headers?: Readonly<Record<string, string>>): Record<string, unknown> {
  const rec = telemetryRecord(info);
  const q = info.path.indexOf('?');
  const [dAddr, dPort] = info.originalDestination ? hostPort(info.originalDestination) : [info.downstreamLocalAddress, info.downstreamLocalPort];
  const [uAddr, uPort] = info.upstreamHost ? hostPort(info.upstreamHost) : ['', 0];
  return {
    request: {
      host: info.authority, method: info.method, path: info.path, url_path: q < 0 ? info.path : info.path.slice(0, q), scheme: info.scheme,
      protocol: info.protocol, id: info.requestId, useragent: info.userAgent, size: info.bytesReceived, total_size: info.bytesReceived,
      duration: Math.max(0, info.durationMs()), headers: headers ?? {},
    },
    response: { code: info.responseCode, code_details: info.responseCodeDetails, flags: info.responseFlags, size: info.bytesSent, total_size: info.bytesSent, grpc_status: rec?.grpcStatus ?? '' },
    source: { address: info.downstreamRemoteAddress, port: info.downstreamRemotePort },
    destination: { address: dAddr, port: dPort },
    connection: { mtls: info.mtls, requested_server_name: info.requestedServerName, uri_san_peer_certificate: info.peerPrincipal, uri_san_local_certificate: info.localPrincipal },
    upstream: { address: uAddr, port: uPort, transport_failure_reason: info.upstreamTransportFailureReason },
    xds: { route_name: info.routeName, cluster_name: info.clusterName, listener_direction: info.direction },
    upstream_peer: peer(rec?.upstreamPeer) ?? {},
    downstream_peer: peer(rec?.downstreamPeer) ?? {},
  };
}

/** Evaluate a program; errors (missing attribute, type mismatch) give undefined. */
export function evalCel(p: CelProgram, vars: Record<string, unknown>): unknown {
  try {
    return evaluateCelWith(p.node, vars);
  } catch {
    return undefined;
  }
}

/** Request headers as a lowercase-keyed record (captured when a program reads them). */
export function headerRecord(list: { toRecord(): Record<string, string> }): Record<string, string> {
  return list.toRecord();
}
