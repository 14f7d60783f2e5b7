import { histogramQuantile, type SeriesRates } from './traffic-window.ts';

export type NodeKind = 'workload' | 'service' | 'unknown';
export type Health = 'healthy' | 'degraded' | 'failure' | 'idle';
export type EdgeProtocol = 'http' | 'grpc' | 'tcp';

/** A workload the mesh runs (from its pods), shown even when it has no traffic. */
export interface KnownWorkload {
  namespace: string;
  name: string;
  app?: string;
  version?: string;
  /** Has a proxy (sidecar or gateway). */
  proxied: boolean;
}

export interface GraphNode {
  id: string;
  kind: NodeKind;
  namespace: string;
  name: string;
  app?: string;
  version?: string;
  proxied?: boolean;
  /** Requests per second into the node (HTTP/gRPC), and the share of them that failed. */
  inboundRate: number;
  inboundErrorRate: number;
  health: Health;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  protocol: EdgeProtocol;
  /** Requests per second (HTTP/gRPC). */
  rate: number;
  /** Share of requests that failed (5xx, no response, or a gRPC status other than OK). */
  errorRate: number;
  /** Latency percentiles in ms (HTTP/gRPC, when requests were timed in the window). */
  p50?: number;
  p99?: number;
  /** Share of the source service node's requests that this edge carries (service → workload). */
  share?: number;
  /** Share of the traffic that was mutual TLS, as the destination proxy saw it; undefined when it did not report. */
  mtls?: number;
  /** TCP bytes per second, client → server and back. */
  tcpSent?: number;
  tcpReceived?: number;
  health: Health;
}

export interface ServiceGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Error thresholds (share of requests): Kiali's defaults for 5xx, degraded and failure. */
export const DEGRADED_AT = 0.001;
export const FAILURE_AT = 0.1;

export function healthOf(rate: number, errorRate: number): Health {
  if (rate <= 0) return 'idle';
  if (errorRate >= FAILURE_AT) return 'failure';
  if (errorRate >= DEGRADED_AT) return 'degraded';
  return 'healthy';
}

const known = (v: string): boolean => v !== '' && v !== 'unknown';

export function workloadId(namespace: string, name: string): string {
  return `wl:${namespace}/${name}`;
}

export function serviceId(namespace: string, name: string): string {
  return `svc:${namespace}/${name}`;
}

export const UNKNOWN_ID = 'unknown';

function isError(l: SeriesRates['labels']): boolean {
  if (l.request_protocol === 'grpc' && known(l.grpc_response_status)) return l.grpc_response_status !== '0';
  const code = Number(l.response_code);
  return !Number.isFinite(code) || code === 0 || code >= 500;
}

interface EdgeAcc {
  source: string;
  target: string;
  protocol: EdgeProtocol;
  rate: number;
  errors: number;
  buckets: Map<number, number>;
  tcpSent: number;
  tcpReceived: number;
  mtlsWeight: number;
  reportedWeight: number;
}

/**
 * Kiali's versioned-app graph with service nodes, from Istio's standard metrics: each source
 * workload points at the service it called, each service at the workloads that answered. Traffic
 * is taken from the client proxy's reports (`reporter="source"`, which also sees faults its own
 * proxy injected) and, for callers without a proxy (`source_workload="unknown"`), from the
 * server's (`reporter="destination"`). mTLS is the share of the traffic the server's proxy saw
 * as `connection_security_policy="mutual_tls"` (clients do not know it). Known workloads without
 * traffic are idle nodes.
 */
export function buildServiceGraph(rates: Iterable<SeriesRates>, workloads: readonly KnownWorkload[]): ServiceGraph {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, EdgeAcc>();
  const node = (id: string, make: () => Omit<GraphNode, 'inboundRate' | 'inboundErrorRate' | 'health'>): void => {
    if (!nodes.has(id)) nodes.set(id, { ...make(), inboundRate: 0, inboundErrorRate: 0, health: 'idle' });
  };
  for (const w of workloads) node(workloadId(w.namespace, w.name), () => ({ id: workloadId(w.namespace, w.name), kind: 'workload', namespace: w.namespace, name: w.name, app: w.app, version: w.version, proxied: w.proxied }));
  const edge = (source: string, target: string, protocol: EdgeProtocol): EdgeAcc => {
    const id = `${source}->${target}:${protocol}`;
    let e = edges.get(id);
    if (!e) edges.set(id, (e = { source, target, protocol, rate: 0, errors: 0, buckets: new Map(), tcpSent: 0, tcpReceived: 0, mtlsWeight: 0, reportedWeight: 0 }));
    return e;
  };
  // The hops one series crosses: caller → service → workload (or caller → workload without a service).
  const hops = (l: SeriesRates['labels'], protocol: EdgeProtocol): EdgeAcc[] => {
    const src = known(l.source_workload) ? workloadId(l.source_workload_namespace, l.source_workload) : UNKNOWN_ID;
    if (src === UNKNOWN_ID) node(UNKNOWN_ID, () => ({ id: UNKNOWN_ID, kind: 'unknown', namespace: '', name: 'unknown' }));
    else node(src, () => ({ id: src, kind: 'workload', namespace: l.source_workload_namespace, name: l.source_workload, app: known(l.source_app) ? l.source_app : undefined, version: known(l.source_version) ? l.source_version : undefined }));
    let svc: string | undefined;
    if (known(l.destination_service_name) && known(l.destination_service_namespace)) {
      svc = serviceId(l.destination_service_namespace, l.destination_service_name);
      node(svc, () => ({ id: svc!, kind: 'service', namespace: l.destination_service_namespace, name: l.destination_service_name }));
    } else if (known(l.destination_service)) {
      svc = serviceId('', l.destination_service);
      node(svc, () => ({ id: svc!, kind: 'service', namespace: '', name: l.destination_service }));
    }
    let dst: string | undefined;
    if (known(l.destination_workload)) {
      const ns = l.destination_workload_namespace;
      dst = workloadId(ns, l.destination_workload);
      node(dst, () => ({ id: dst!, kind: 'workload', namespace: ns, name: l.destination_workload, app: known(l.destination_app) ? l.destination_app : undefined, version: known(l.destination_version) ? l.destination_version : undefined }));
    }
    const out: EdgeAcc[] = [];
    if (svc) out.push(edge(src, svc, protocol));
    if (svc && dst) out.push(edge(svc, dst, protocol));
    if (!svc && dst) out.push(edge(src, dst, protocol));
    return out;
  };
  for (const r of rates) {
    const l = r.labels;
    const protocol: EdgeProtocol = l.request_protocol === 'grpc' ? 'grpc' : l.request_protocol === 'tcp' ? 'tcp' : 'http';
    const volume = protocol === 'tcp' ? r.tcpSentPerSecond + r.tcpReceivedPerSecond + r.tcpOpenedPerSecond : r.requests;
    if (volume <= 0) continue;
    const fromClient = l.reporter === 'source';
    const fromServer = l.reporter === 'destination';
    if (fromServer) {
      // mTLS as the server saw it, for every hop of this series
      for (const e of hops(l, protocol)) {
        e.reportedWeight += volume;
        if (l.connection_security_policy === 'mutual_tls') e.mtlsWeight += volume;
      }
    }
    if (!(fromClient || (fromServer && !known(l.source_workload)))) continue;
    for (const e of hops(l, protocol)) {
      if (protocol === 'tcp') {
        e.tcpSent += r.tcpSentPerSecond;
        e.tcpReceived += r.tcpReceivedPerSecond;
        continue;
      }
      e.rate += r.requests;
      if (isError(l)) e.errors += r.requests;
      for (const [le, n] of r.durationBuckets) e.buckets.set(le, (e.buckets.get(le) ?? 0) + n);
    }
  }
  const out: GraphEdge[] = [];
  const outgoing = new Map<string, number>();
  for (const e of edges.values()) if (e.protocol !== 'tcp') outgoing.set(e.source, (outgoing.get(e.source) ?? 0) + e.rate);
  for (const [id, e] of edges) {
    const isTcp = e.protocol === 'tcp';
    if (isTcp ? e.tcpSent + e.tcpReceived <= 0 && e.reportedWeight <= 0 : e.rate <= 0) continue;
    const errorRate = e.rate > 0 ? e.errors / e.rate : 0;
    const ge: GraphEdge = { id, source: e.source, target: e.target, protocol: e.protocol, rate: e.rate, errorRate, health: isTcp ? 'healthy' : healthOf(e.rate, errorRate) };
    if (!isTcp) {
      const p50 = histogramQuantile(0.5, e.buckets);
      const p99 = histogramQuantile(0.99, e.buckets);
      if (p50 !== undefined) ge.p50 = p50;
      if (p99 !== undefined) ge.p99 = p99;
      if (nodes.get(e.source)?.kind === 'service') ge.share = e.rate / (outgoing.get(e.source) || 1);
    } else {
      ge.tcpSent = e.tcpSent;
      ge.tcpReceived = e.tcpReceived;
    }
    if (e.reportedWeight > 0) ge.mtls = e.mtlsWeight / e.reportedWeight;
    out.push(ge);
    const target = nodes.get(e.target);
    if (target && !isTcp) {
      target.inboundErrorRate = (target.inboundErrorRate * target.inboundRate + e.errors) / (target.inboundRate + e.rate || 1);
      target.inboundRate += e.rate;
    }
  }
  for (const n of nodes.values()) n.health = n.inboundRate > 0 ? healthOf(n.inboundRate, n.inboundErrorRate) : n.kind === 'workload' && out.some((e) => e.source === n.id) ? 'healthy' : 'idle';
  return { nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)), edges: out.sort((a, b) => a.id.localeCompare(b.id)) };
}
