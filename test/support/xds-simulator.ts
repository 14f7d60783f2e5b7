/**
 * A request through generated xDS, as Istio's pilot/pkg/simulation does it: which listener,
 * filter chain, route config, virtual host, route, cluster and endpoints a connection or HTTP
 * request reaches, following Envoy's matching rules. Works on the protobuf-JSON resources the
 * generators produce.
 */
import type { GeneratedResource } from '../../src/control/generate/generator.ts';
import { cidrContains, rbacAllows, routeMatches, selectVirtualHost } from './envoy-matchers.ts';

type Json = Record<string, any>;

/** What Mizzen's sidecars offer for mesh mTLS. */
const MESH_ALPN = ['istio-peer-exchange', 'istio'];

export interface ProxyResources {
  listeners: readonly GeneratedResource[];
  routes: readonly GeneratedResource[];
  clusters: readonly GeneratedResource[];
  endpoints: readonly GeneratedResource[];
}

export interface SimRequest {
  /** `outbound`: captured at 15001 to its original destination; `inbound`: at 15006; `gateway`: to a listener port; `grpc`: a proxyless target. */
  mode: 'outbound' | 'inbound' | 'gateway' | 'grpc';
  /** Original destination (outbound/inbound) or listener port (gateway). */
  address?: string;
  port?: number;
  /** `HOST:PORT` for grpc. */
  target?: string;
  /** L7 by default; `tcp` stops after the network filters. */
  protocol?: 'http' | 'tcp';
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  /** TLS client hello: transport protocol and SNI as the tls_inspector sees them. */
  tls?: boolean;
  sni?: string;
  /** TLS ALPN offered; default what Mizzen's sidecars offer for mesh mTLS (istio-peer-exchange, istio). `[]`: an app's own TLS. */
  alpn?: string[];
  /** Peer identity (mTLS) and source address, for RBAC. */
  principal?: string;
  sourceIp?: string;
  requestPrincipal?: string;
}

export interface SimResult {
  listener?: string;
  filterChain?: string;
  filterChainIndex?: number;
  networkFilters?: string[];
  httpFilters?: string[];
  routeConfig?: string;
  virtualHost?: string;
  route?: Json;
  routeName?: string;
  /** The single cluster, or the first of weighted clusters. */
  cluster?: string;
  weightedClusters?: { name: string; weight: number }[];
  endpoints?: string[];
  redirect?: Json;
  directResponse?: Json;
  /** Transport socket of the chosen filter chain (inbound/gateway TLS). */
  transportSocket?: Json;
  denied?: 'rbac';
  error?: string;
}

export class XdsSimulator {
  private readonly listeners: Json[];
  private readonly routes = new Map<string, Json>();
  private readonly clusters = new Map<string, Json>();
  private readonly endpoints = new Map<string, Json>();

  constructor(r: ProxyResources) {
    this.listeners = r.listeners.map((l) => l.resource);
    for (const x of r.routes) this.routes.set(x.name, x.resource);
    for (const x of r.clusters) this.clusters.set(x.name, x.resource);
    for (const x of r.endpoints) this.endpoints.set(x.name, x.resource);
  }

  cluster(name: string): Json | undefined {
    return this.clusters.get(name);
  }

  loadAssignment(clusterName: string): Json | undefined {
    return this.endpoints.get(clusterName);
  }

  routeConfig(name: string): Json | undefined {
    return this.routes.get(name);
  }

  listener(name: string): Json | undefined {
    return this.listeners.find((l) => l.name === name);
  }

  run(req: SimRequest): SimResult {
    const out: SimResult = {};
    if (req.mode === 'grpc') return this.grpc(req, out);
    const listener = this.selectListener(req);
    if (!listener) return { ...out, error: 'no listener' };
    out.listener = listener.name;
    const idx = this.selectChain(listener, req);
    const chain = idx >= 0 ? listener.filterChains[idx] : listener.defaultFilterChain;
    if (!chain) return { ...out, error: 'no filter chain' };
    out.filterChain = chain.name ?? '';
    out.filterChainIndex = idx;
    if (chain.transportSocket) out.transportSocket = chain.transportSocket;
    out.networkFilters = (chain.filters ?? []).map((f: Json) => f.name);
    const rbacReq = { headers: this.headers(req), path: req.path ?? '/', destinationPort: req.port ?? 0, principal: req.principal, sourceIp: req.sourceIp, requestPrincipal: req.requestPrincipal };
    for (const f of chain.filters ?? []) {
      const cfg = f.typedConfig ?? {};
      if (f.name === 'envoy.filters.network.rbac' && !rbacAllows(cfg, rbacReq)) return { ...out, denied: 'rbac' };
      if (f.name === 'envoy.filters.network.tcp_proxy') {
        if (cfg.cluster) return this.toCluster(out, cfg.cluster, req);
        out.weightedClusters = cfg.weightedClusters.clusters;
        return this.toCluster(out, cfg.weightedClusters.clusters[0].name, req);
      }
      if (f.name === 'envoy.filters.network.http_connection_manager') {
        if (req.protocol === 'tcp') return { ...out, error: 'HTTP chain for a TCP request' };
        return this.http(cfg, req, out, rbacReq);
      }
    }
    return { ...out, error: 'no terminal filter' };
  }

  private headers(req: SimRequest): Record<string, string> {
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) h[k.toLowerCase()] = v;
    h[':method'] = req.method ?? 'GET';
    h[':authority'] = req.host ?? req.target ?? `${req.address}:${req.port}`;
    h[':path'] = req.path ?? '/';
    h[':scheme'] = 'http';
    return h;
  }

  private selectListener(req: SimRequest): Json | undefined {
    const at = (l: Json): { address: string; port: number } => ({ address: l.address?.socketAddress?.address, port: l.address?.socketAddress?.portValue });
    if (req.mode === 'inbound') return this.listeners.find((l) => l.name === 'virtualInbound');
    if (req.mode === 'gateway') return this.listeners.find((l) => at(l).port === req.port);
    // Outbound: virtualOutbound hands the connection to the listener for its original destination.
    const candidates = this.listeners.filter((l) => l.name !== 'virtualOutbound' && l.name !== 'virtualInbound');
    return (
      candidates.find((l) => at(l).address === req.address && at(l).port === req.port) ??
      candidates.find((l) => at(l).address === '0.0.0.0' && at(l).port === req.port) ??
      this.listeners.find((l) => l.name === 'virtualOutbound')
    );
  }

  /** Envoy's filter chain match order: port, server name, transport protocol, ALPN; most specific wins. */
  private selectChain(listener: Json, req: SimRequest): number {
    let cands = (listener.filterChains ?? []).map((c: Json, i: number) => ({ c, i }));
    const transport = req.tls ? 'tls' : 'raw_buffer';
    const steps: ((m: Json) => { set: boolean; ok: boolean })[] = [
      (m) => ({ set: m.destinationPort !== undefined, ok: m.destinationPort === req.port }),
      (m) => ({ set: (m.prefixRanges ?? []).length > 0, ok: (m.prefixRanges ?? []).some((r: Json) => cidrContains(r, req.address)) }),
      (m) => ({ set: (m.serverNames ?? []).length > 0, ok: (m.serverNames ?? []).some((n: string) => n === req.sni || (n.startsWith('*.') && !!req.sni?.endsWith(n.slice(1)))) }),
      (m) => ({ set: !!m.transportProtocol, ok: m.transportProtocol === transport }),
      // http_inspector: plaintext HTTP requests look like http/1.1.
      (m) => ({
        set: (m.applicationProtocols ?? []).length > 0,
        ok: req.tls ? (m.applicationProtocols ?? []).some((p: string) => (req.alpn ?? MESH_ALPN).includes(p)) : req.protocol !== 'tcp' && (m.applicationProtocols ?? []).includes('http/1.1'),
      }),
    ];
    for (const step of steps) {
      const matching = cands.filter(({ c }: Json) => {
        const r = step(c.filterChainMatch ?? {});
        return r.set && r.ok;
      });
      cands = matching.length > 0 ? matching : cands.filter(({ c }: Json) => !step(c.filterChainMatch ?? {}).set);
      if (cands.length === 0) return -1;
    }
    return cands[0].i;
  }

  private http(hcm: Json, req: SimRequest, out: SimResult, rbacReq: Parameters<typeof rbacAllows>[1]): SimResult {
    out.httpFilters = (hcm.httpFilters ?? []).map((f: Json) => f.name);
    for (const f of hcm.httpFilters ?? []) {
      if (f.name === 'envoy.filters.http.rbac' && !rbacAllows(f.typedConfig ?? {}, rbacReq)) return { ...out, denied: 'rbac' };
    }
    let rc: Json | undefined;
    if (hcm.rds) {
      out.routeConfig = hcm.rds.routeConfigName;
      rc = this.routes.get(hcm.rds.routeConfigName);
      if (!rc) return { ...out, error: `route config ${hcm.rds.routeConfigName} not found` };
    } else {
      rc = hcm.routeConfig;
      out.routeConfig = rc?.name;
    }
    return this.route(rc!, req, out);
  }

  private route(rc: Json, req: SimRequest, out: SimResult): SimResult {
    const headers = this.headers(req);
    const vh = selectVirtualHost(rc.virtualHosts ?? [], headers[':authority']!, rc.ignorePortInHostMatching === true);
    if (!vh) return { ...out, error: 'no virtual host' };
    out.virtualHost = vh.name;
    const route = (vh.routes ?? []).find((r: Json) => routeMatches(r.match, req.path ?? '/', headers));
    if (!route) return { ...out, error: 'no route' };
    out.route = route;
    out.routeName = route.name;
    if (route.redirect) return { ...out, redirect: route.redirect };
    if (route.directResponse) return { ...out, directResponse: route.directResponse };
    const action = route.route;
    if (action.cluster) return this.toCluster(out, action.cluster, req);
    if (action.weightedClusters) {
      out.weightedClusters = action.weightedClusters.clusters.map((c: Json) => ({ name: c.name, weight: c.weight }));
      return this.toCluster(out, action.weightedClusters.clusters[0].name, req);
    }
    return { ...out, error: 'route without action' };
  }

  private grpc(req: SimRequest, out: SimResult): SimResult {
    const listener = this.listeners.find((l) => l.name === req.target);
    if (!listener) return { ...out, error: 'no listener' };
    out.listener = listener.name;
    const hcm = listener.apiListener?.apiListener;
    out.routeConfig = hcm?.rds?.routeConfigName;
    const rc = this.routes.get(out.routeConfig ?? '');
    if (!rc) return { ...out, error: `route config ${out.routeConfig} not found` };
    return this.route(rc, { ...req, host: req.host ?? req.target }, out);
  }

  private toCluster(out: SimResult, name: string, req: SimRequest): SimResult {
    out.cluster = name;
    const c = this.clusters.get(name);
    if (!c) return { ...out, error: `cluster ${name} not found` };
    if (c.type === 'EDS') {
      const cla = this.endpoints.get(c.edsClusterConfig?.serviceName ?? name);
      if (!cla) return { ...out, endpoints: [], error: `no ClusterLoadAssignment for ${name}` };
      out.endpoints = addresses(cla);
    } else if (c.type === 'ORIGINAL_DST') {
      out.endpoints = req.address ? [`${req.address}:${req.port}`] : [];
    } else {
      out.endpoints = c.loadAssignment ? addresses(c.loadAssignment) : [];
    }
    return out;
  }
}

function addresses(cla: Json): string[] {
  const out: string[] = [];
  for (const loc of cla.endpoints ?? []) {
    for (const e of loc.lbEndpoints ?? []) {
      const sa = e.endpoint?.address?.socketAddress;
      if (sa) out.push(`${sa.address}:${sa.portValue}`);
    }
  }
  return out;
}
