import type { ZGatewayAddress, ZService, ZWorkload } from './workload-model.ts';
import type { WorkloadStore } from './workload-store.ts';

/**
 * Where an outbound connection goes (zt:src/proxy/outbound.rs build_request,
 * src/state.rs fetch_upstream/load_balance), decided from the store:
 * - the original destination is a Service VIP: pick an endpoint (healthy only unless the service
 *   allows all; ranked by the service's routing preferences, STRICT or FAILOVER; weighted random
 *   by capacity); its target port is the endpoint's mapping, else the service's;
 * - it is a workload IP: that workload, same port;
 * - unknown: plain TCP to the original destination (passthrough);
 * then HBONE to `IP:15008` (authority `IP:targetPort`) when the workload speaks HBONE, plain TCP
 * to `IP:targetPort` when it does not. A service with no usable endpoint is an error
 * (NoHealthyUpstream), unless it is PASSTHROUGH.
 * A destination (service, else workload) with a waypoint goes to the waypoint instead
 * (zt:src/proxy/outbound.rs, `Request.waypoint`): HBONE to a waypoint pod's `IP:15008` with the
 * original destination as the authority (`VIP:port` for a service), the waypoint's identity
 * expected — unless the source is that waypoint (it sends to the endpoints itself).
 */
export interface OutboundRoute {
  protocol: 'HBONE' | 'TCP';
  /** Where the socket connects: IP:15008 for HBONE, IP:port for TCP. */
  address: string;
  port: number;
  /** HBONE :authority (the destination workload's IP:targetPort). */
  hboneAuthority?: string;
  workload?: ZWorkload;
  service?: ZService;
  /** Identities the HBONE peer may present. */
  expectedIdentities: string[];
  /** The waypoint that carries this connection (its workload), when the destination has one. */
  waypoint?: ZWorkload;
}

export type RouteResult = { ok: true; route: OutboundRoute } | { ok: false; reason: string; service?: ZService };

export const HBONE_PORT = 15008;

export function routeOutbound(store: WorkloadStore, source: ZWorkload, dstIp: string, dstPort: number, random: () => number = Math.random): RouteResult {
  const network = source.network;
  const service = store.serviceAt(network, dstIp);
  const target = service ?? store.workloadAt(network, dstIp);
  if (target?.waypoint && !isWaypointOf(store, source, target.waypoint)) {
    const wp = waypointRoute(store, source, target.waypoint, dstIp, dstPort, random);
    if (!wp.ok) return { ...wp, ...(service ? { service } : {}) };
    return { ok: true, route: { ...wp.route, ...(service ? { service } : { workload: target as ZWorkload }) } };
  }
  if (service) {
    const picked = pickEndpoint(store, source, service, dstPort, random);
    if (!picked) {
      if (service.loadBalancing?.mode === 'PASSTHROUGH') return { ok: true, route: { protocol: 'TCP', address: dstIp, port: dstPort, expectedIdentities: [] } };
      return { ok: false, reason: `no healthy upstream for ${service.hostname}:${dstPort}`, service };
    }
    return { ok: true, route: toWorkload(picked.workload, picked.targetPort, service, dstIp) };
  }
  const workload = store.workloadAt(network, dstIp);
  if (workload) return { ok: true, route: toWorkload(workload, dstPort, undefined, dstIp) };
  return { ok: true, route: { protocol: 'TCP', address: dstIp, port: dstPort, expectedIdentities: [] } };
}

/** Is `source` a pod of this waypoint (its traffic to the destination must not loop back)? */
function isWaypointOf(store: WorkloadStore, source: ZWorkload, gw: ZGatewayAddress): boolean {
  const svc = waypointService(store, gw);
  if (svc) return source.services.has(svc.key);
  return gw.address !== undefined && source.ips.includes(gw.address.ip);
}

function waypointService(store: WorkloadStore, gw: ZGatewayAddress): ZService | undefined {
  if (gw.hostname) return store.service(`${gw.hostname.namespace}/${gw.hostname.hostname}`);
  if (gw.address) return store.serviceAt(gw.address.network, gw.address.ip);
  return undefined;
}

/** HBONE to a waypoint pod (its service's endpoints, or the address given), authority = the original destination. */
function waypointRoute(store: WorkloadStore, source: ZWorkload, gw: ZGatewayAddress, dstIp: string, dstPort: number, random: () => number): RouteResult {
  const svc = waypointService(store, gw);
  let waypoint: ZWorkload | undefined;
  if (svc) {
    const candidates = store.serviceEndpoints(svc.key).filter((w) => w.healthy && w.ips.length > 0 && w.network === source.network);
    waypoint = candidates[Math.floor(random() * candidates.length)];
  } else if (gw.address) waypoint = store.workloadAt(gw.address.network, gw.address.ip);
  const name = gw.hostname ? gw.hostname.hostname : (gw.address?.ip ?? '');
  if (!waypoint) return { ok: false, reason: `no healthy waypoint ${name} for ${dstIp}:${dstPort}` };
  const ip = waypoint.ips[0]!;
  const authority = dstIp.includes(':') ? `[${dstIp}]:${dstPort}` : `${dstIp}:${dstPort}`;
  return { ok: true, route: { protocol: 'HBONE', address: ip, port: gw.hbonePort || HBONE_PORT, hboneAuthority: authority, expectedIdentities: [waypoint.identity], waypoint } };
}

function toWorkload(w: ZWorkload, port: number, service: ZService | undefined, dstIp: string): OutboundRoute {
  const ip = w.ips.includes(dstIp) ? dstIp : (w.ips[0] ?? dstIp);
  const identities = [w.identity, ...(service?.subjectAltNames ?? [])];
  if (w.tunnelProtocol === 'HBONE') {
    return { protocol: 'HBONE', address: ip, port: HBONE_PORT, hboneAuthority: `${ip.includes(':') ? `[${ip}]` : ip}:${port}`, workload: w, service, expectedIdentities: identities };
  }
  return { protocol: 'TCP', address: ip, port, workload: w, service, expectedIdentities: [] };
}

/** A service endpoint for this port, as ztunnel's load_balance picks it. */
export function pickEndpoint(store: WorkloadStore, source: ZWorkload, service: ZService, port: number, random: () => number = Math.random): { workload: ZWorkload; targetPort: number } | undefined {
  const sp = service.ports.find((p) => p.servicePort === port);
  if (!sp) return undefined;
  const allowAll = service.loadBalancing?.healthPolicy === 'ALLOW_ALL';
  const candidates: { workload: ZWorkload; targetPort: number }[] = [];
  for (const w of store.serviceEndpoints(service.key)) {
    if (!w.healthy && !allowAll) continue;
    if (w.network !== source.network) continue; // cross-network needs an east-west gateway (not supported)
    if (w.ips.length === 0 && !w.hostname) continue;
    const mapped = w.services.get(service.key)?.find((p) => p.servicePort === port)?.targetPort;
    const targetPort = mapped || sp.targetPort;
    if (!targetPort) continue;
    candidates.push({ workload: w, targetPort });
  }
  let options = candidates;
  const lb = service.loadBalancing;
  if (lb && lb.routingPreference.length > 0 && (lb.mode === 'STRICT' || lb.mode === 'FAILOVER')) {
    const prefs = lb.routingPreference;
    const networkPreferred = prefs[0] === 'NETWORK';
    const ranked: { rank: number; c: { workload: ZWorkload; targetPort: number } }[] = [];
    for (const c of candidates) {
      let rank = 0;
      let adjust = 0;
      for (const scope of prefs) {
        let m: boolean;
        const w = c.workload;
        if (scope === 'NETWORK') {
          m = source.network === w.network;
          if (networkPreferred) {
            if (m) adjust = prefs.length - 1;
            else continue;
          }
        } else if (scope === 'REGION') m = source.locality?.region === w.locality?.region;
        else if (scope === 'ZONE') m = source.locality?.zone === w.locality?.zone;
        else if (scope === 'SUBZONE') m = source.locality?.subzone === w.locality?.subzone;
        else if (scope === 'NODE') m = source.node === w.node;
        else if (scope === 'CLUSTER') m = source.clusterId === w.clusterId;
        else m = true;
        if (m) rank++;
        else break;
      }
      if (lb.mode === 'STRICT' && rank !== prefs.length) continue;
      ranked.push({ rank: rank + adjust, c });
    }
    if (ranked.length === 0) return undefined;
    const max = Math.max(...ranked.map((r) => r.rank));
    options = ranked.filter((r) => r.rank === max).map((r) => r.c);
  }
  if (options.length === 0) return undefined;
  let total = 0;
  for (const o of options) total += o.workload.capacity;
  let x = random() * total;
  for (const o of options) {
    x -= o.workload.capacity;
    if (x < 0) return o;
  }
  return options[options.length - 1];
}
