import type { StreamInfo } from '../l7/stream-info.ts';
import type { PeerInfo } from './peer-metadata.ts';
import type { TelemetryRecord } from './metadata-exchange-filter.ts';

/** Istio's standard metric labels, in Istio's order. */
export const ISTIO_LABELS = [
  'reporter', 'source_workload', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version',
  'source_canonical_service', 'source_canonical_revision', 'source_cluster', 'destination_workload',
  'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_service', 'destination_service_name', 'destination_service_namespace', 'destination_canonical_service',
  'destination_canonical_revision', 'destination_cluster', 'request_protocol', 'response_code', 'grpc_response_status',
  'response_flags', 'connection_security_policy',
] as const;

export type IstioLabels = Record<(typeof ISTIO_LABELS)[number], string>;

/** A service a cluster fronts (cluster metadata `istio.services[0]`, or parsed from the name). */
export interface ServiceRef {
  host: string;
  name: string;
  namespace: string;
}

const U = 'unknown';

export const UNKNOWN_PEER: PeerInfo = Object.freeze({
  id: 0, workload: U, namespace: U, app: U, version: U, canonicalService: U, canonicalRevision: U, serviceAccount: U, cluster: U, meshId: U,
});

/** `spiffe://TD/ns/NS/sa/SA` → NS ('' when not SPIFFE-shaped). */
export function namespaceOfPrincipal(p: string): string {
  const i = p.indexOf('/ns/');
  if (i < 0) return '';
  const j = p.indexOf('/', i + 4);
  return j < 0 ? p.slice(i + 4) : p.slice(i + 4, j);
}

/** The service of a cluster's `istio` metadata (`services[0]`). */
export function serviceOfClusterMetadata(metadata: Record<string, unknown>): ServiceRef | undefined {
  const svc = (metadata.services as { host?: string; name?: string; namespace?: string }[] | undefined)?.[0];
  return svc?.host ? { host: svc.host, name: svc.name ?? svc.host, namespace: svc.namespace ?? U } : undefined;
}

/** Service from an Istio cluster name `outbound|PORT|SUBSET|HOST` (undefined for others). */
export function serviceOfClusterName(cluster: string): ServiceRef | undefined {
  if (!cluster.startsWith('outbound|')) return undefined;
  const host = cluster.slice(cluster.lastIndexOf('|') + 1);
  if (!host) return undefined;
  const parts = host.split('.');
  const kube = parts.length >= 3 && parts[2] === 'svc';
  return { host, name: kube ? parts[0] : host, namespace: kube ? parts[1] : U };
}

/** The per-stream facts that decide a label set (everything else is fixed per peer). */
export interface LabelFacts {
  inbound: boolean;
  /** Reported by a waypoint (`reporter="waypoint"`). */
  waypoint: boolean;
  source: PeerInfo;
  destination: PeerInfo;
  sourcePrincipal: string;
  destinationPrincipal: string;
  service: ServiceRef | undefined;
  protocol: string;
  code: string;
  grpcStatus: string;
  flags: string;
  security: string;
  /** Namespace of the source principal when the source peer is unknown. */
  principalNamespace: string;
}

export function buildLabels(f: LabelFacts): IstioLabels {
  const s = f.source;
  const d = f.destination;
  return {
    reporter: f.waypoint ? 'waypoint' : f.inbound ? 'destination' : 'source',
    source_workload: s.workload,
    source_workload_namespace: s.namespace !== U ? s.namespace : f.principalNamespace || U,
    source_principal: f.sourcePrincipal || U,
    source_app: s.app,
    source_version: s.version,
    source_canonical_service: s.canonicalService,
    source_canonical_revision: s.canonicalRevision,
    source_cluster: s.cluster,
    destination_workload: d.workload,
    destination_workload_namespace: d.namespace,
    destination_principal: f.destinationPrincipal || U,
    destination_app: d.app,
    destination_version: d.version,
    destination_service: f.service?.host ?? U,
    destination_service_name: f.service?.name ?? U,
    destination_service_namespace: f.service?.namespace ?? U,
    destination_canonical_service: d.canonicalService,
    destination_canonical_revision: d.canonicalRevision,
    destination_cluster: d.cluster,
    request_protocol: f.protocol,
    response_code: f.code,
    grpc_response_status: f.grpcStatus,
    response_flags: f.flags || '-',
    connection_security_policy: f.security,
  };
}

/** Workloads by IP (a waypoint's view of the workload API), for the peers a waypoint reports. */
export type PeerLookup = (ip: string) => PeerInfo | undefined;

/** Fill `facts` (reused) for one finished stream. */
export function factsOf(facts: LabelFacts, info: StreamInfo, rec: TelemetryRecord | undefined, self: PeerInfo, selfPrincipal: string, service: ServiceRef | undefined, waypoint?: { peers: PeerLookup | undefined }): LabelFacts {
  const inbound = info.direction === 'INBOUND';
  const tcp = info.protocol === 'tcp';
  facts.inbound = inbound;
  facts.waypoint = waypoint !== undefined;
  if (waypoint) {
    // Istio's waypoint: the client (tunnel peer) as source, the endpoint it chose as destination
    const dst = waypoint.peers?.(hostIp(info.upstreamHost));
    facts.source = waypoint.peers?.(info.downstreamRemoteAddress) ?? rec?.downstreamPeer ?? UNKNOWN_PEER;
    facts.destination = dst ?? UNKNOWN_PEER;
    facts.sourcePrincipal = info.mtls ? info.peerPrincipal : '';
    facts.destinationPrincipal = dst && dst.serviceAccount !== U ? `spiffe://${dst.meshId !== U ? dst.meshId : 'cluster.local'}/ns/${dst.namespace}/sa/${dst.serviceAccount}` : '';
    facts.security = info.mtls ? 'mutual_tls' : 'none';
    facts.principalNamespace = info.mtls ? namespaceOfPrincipal(info.peerPrincipal) : '';
  } else if (inbound) {
    facts.source = rec?.downstreamPeer ?? UNKNOWN_PEER;
    facts.destination = self;
    facts.sourcePrincipal = info.mtls ? info.peerPrincipal : '';
    facts.destinationPrincipal = info.mtls ? info.localPrincipal || selfPrincipal : '';
    facts.security = info.mtls ? 'mutual_tls' : 'none';
    facts.principalNamespace = info.mtls ? namespaceOfPrincipal(info.peerPrincipal) : '';
  } else {
    const up = rec?.upstreamPeer;
    facts.source = self;
    facts.destination = up ?? UNKNOWN_PEER;
    facts.sourcePrincipal = up ? selfPrincipal : '';
    facts.destinationPrincipal = up && up.serviceAccount !== U && up.namespace !== U ? `spiffe://${up.meshId !== U ? up.meshId : 'cluster.local'}/ns/${up.namespace}/sa/${up.serviceAccount}` : '';
    facts.security = 'unknown';
    facts.principalNamespace = '';
  }
  facts.service = service;
  facts.protocol = tcp ? 'tcp' : rec?.grpc ? 'grpc' : 'http';
  facts.code = tcp ? '' : String(info.responseCode);
  facts.grpcStatus = tcp ? '' : rec?.grpcStatus ?? '';
  facts.flags = info.responseFlags;
  return facts;
}

/** The label-cache key of a facts record. */
export function factsKey(f: LabelFacts): string {
  const svc = f.service ? f.service.host : '';
  return `${f.waypoint ? 'w' : f.inbound ? 'd' : 's'}|${f.source.id}|${f.destination.id}|${f.sourcePrincipal}|${f.destinationPrincipal}|${svc}|${f.protocol}|${f.code}|${f.grpcStatus}|${f.flags}|${f.security}|${f.principalNamespace}`;
}

/** The IP of an upstream host key (`[listener/][tunnel/]IP:PORT`, `[IPv6]:PORT`). */
function hostIp(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1);
  const c = last.lastIndexOf(':');
  const ip = c > 0 ? last.slice(0, c) : last;
  return ip.startsWith('[') ? ip.slice(1, -1) : ip;
}
