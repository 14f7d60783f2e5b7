import type { ConfigResource } from '../../api/config-resource.ts';
import { KUBERNETES_GATEWAY } from '../../api/kinds.ts';
import type { GatewaySpec, GatewayStatus } from '../../api/gateway-api/gateway-api-types.ts';
import type { GatewayAddress } from '../../api/workload/workload-types.ts';
import { ipToBase64 } from '../../api/workload/workload-types.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import { GatewayClasses } from '../gateway-api/gateway-classes.ts';
import { labelsMatch } from '../push/config-scope.ts';

export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';
export const USE_WAYPOINT_NAMESPACE_LABEL = 'istio.io/use-waypoint-namespace';
export const WAYPOINT_FOR_LABEL = 'istio.io/waypoint-for';

export const INGRESS_USE_WAYPOINT_LABEL = 'istio.io/ingress-use-waypoint';

/** `istio.io/ingress-use-waypoint` of a service: its own label, else its namespace's (istiod's ingressUseWaypointFromLabels). */
export function ingressUsesWaypoint(config: ConfigStoreReader, namespace: string, labels: Readonly<Record<string, string>>): boolean {
  const value = labels[INGRESS_USE_WAYPOINT_LABEL] ?? config.get('Namespace', undefined, namespace)?.metadata.labels?.[INGRESS_USE_WAYPOINT_LABEL];
  return String(value ?? '').toLowerCase() === 'true';
}

export type WaypointFor = 'service' | 'workload' | 'all' | 'none';

/** One waypoint: a Gateway of a class of Istio's mesh controller (`istio-waypoint`). */
export interface Waypoint {
  namespace: string;
  name: string;
  trafficType: WaypointFor;
  /** The address from its status (the Service hostname, else an IP); undefined until a pod is ready. */
  address: GatewayAddress | undefined;
  /** The waypoint's own Service hostname (`NAME.NS.svc.DOMAIN`). */
  serviceHost: string;
  gateway: ConfigResource<GatewaySpec>;
}

/**
 * Which waypoint an object uses (istiod's pilot/pkg/serviceregistry/ambient/waypoints.go): the
 * object's own `istio.io/use-waypoint` label, else its namespace's (`none` on the object opts
 * out); `istio.io/use-waypoint-namespace` beside the label used names the waypoint's namespace,
 * allowed only when the Gateway's listeners admit routes from the object's namespace (Same by
 * default). A waypoint serves services when its `istio.io/waypoint-for` (Gateway label, else its
 * GatewayClass's; default `service`) is `service` or `all`, workloads (Pods, WorkloadEntries) when
 * it is `workload` or `all` (a namespace's waypoint for services only is not applied to its
 * workloads; a workload's own label naming one binds nothing, as istiod reports it).
 * A waypoint without a status address is not ready: nothing binds to it (traffic goes direct, as
 * in Istio). A waypoint never uses a waypoint itself.
 */
export class WaypointIndex {
  private readonly byKey = new Map<string, Waypoint>();
  private readonly config: ConfigStoreReader;

  constructor(config: ConfigStoreReader, domainSuffix = 'cluster.local') {
    this.config = config;
    const classes = new GatewayClasses(config);
    for (const g of config.list(KUBERNETES_GATEWAY) as unknown as readonly ConfigResource<GatewaySpec>[]) {
      const cls = g.spec?.gatewayClassName ?? '';
      if (classes.controller(cls) !== 'mesh') continue;
      const ns = g.metadata.namespace ?? 'default';
      const forLabel = g.metadata.labels?.[WAYPOINT_FOR_LABEL] ?? classes.classLabels(cls)[WAYPOINT_FOR_LABEL] ?? 'service';
      const trafficType: WaypointFor = forLabel === 'workload' || forLabel === 'all' || forLabel === 'none' ? forLabel : 'service';
      this.byKey.set(`${ns}/${g.metadata.name}`, { namespace: ns, name: g.metadata.name, trafficType, address: statusAddress(g, ns), serviceHost: `${g.metadata.name}.${ns}.svc.${domainSuffix}`, gateway: g });
    }
  }

  get(namespace: string, name: string): Waypoint | undefined {
    return this.byKey.get(`${namespace}/${name}`);
  }

  all(): IterableIterator<Waypoint> {
    return this.byKey.values();
  }

  /** The ready waypoint a Service (or ServiceEntry) with these labels uses. */
  forService(namespace: string, labels: Readonly<Record<string, string>>): Waypoint | undefined {
    const w = this.bound(namespace, labels, true);
    return w && (w.trafficType === 'service' || w.trafficType === 'all') && w.address ? w : undefined;
  }

  /** The ready waypoint a Pod or WorkloadEntry with these labels uses for traffic addressed to it. */
  forWorkload(namespace: string, labels: Readonly<Record<string, string>>): Waypoint | undefined {
    const w = this.bound(namespace, labels, true);
    return w && (w.trafficType === 'workload' || w.trafficType === 'all') && w.address ? w : undefined;
  }

  private bound(namespace: string, labels: Readonly<Record<string, string>>, service: boolean): Waypoint | undefined {
    let name = labels[USE_WAYPOINT_LABEL];
    let wpNamespace = labels[USE_WAYPOINT_NAMESPACE_LABEL];
    if (name === undefined) {
      const nsLabels = this.config.get('Namespace', undefined, namespace)?.metadata.labels ?? {};
      name = nsLabels[USE_WAYPOINT_LABEL];
      wpNamespace = nsLabels[USE_WAYPOINT_NAMESPACE_LABEL];
    }
    if (!name || name === 'none') return undefined;
    const w = this.get(wpNamespace || namespace, name);
    if (!w) return undefined;
    // the waypoint's own Service and pods do not go through itself
    if (service && labels['gateway.networking.k8s.io/gateway-name'] === w.name && w.namespace === namespace) return undefined;
    if (w.namespace !== namespace && !this.allowsFrom(w, namespace)) return undefined;
    return w;
  }

  private allowsFrom(w: Waypoint, namespace: string): boolean {
    const nsLabels = this.config.get('Namespace', undefined, namespace)?.metadata.labels ?? {};
    return (w.gateway.spec?.listeners ?? []).some((l) => {
      const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
      if (from === 'All') return true;
      if (from === 'Selector') return labelsMatch(l.allowedRoutes?.namespaces?.selector?.matchLabels, nsLabels);
      return false;
    });
  }
}

/** The Gateway's status address as a workload API GatewayAddress (hostname preferred, IP as fallback). */
function statusAddress(g: ConfigResource<GatewaySpec>, namespace: string): GatewayAddress | undefined {
  const addresses = ((g.raw.status as GatewayStatus | undefined)?.addresses ?? []).filter((a) => a.value);
  const host = addresses.find((a) => a.type === 'Hostname');
  if (host) return { hostname: { namespace, hostname: host.value }, hboneMtlsPort: 15008 };
  const ip = addresses.find((a) => a.type === undefined || a.type === 'IPAddress');
  if (ip) return { address: { network: '', address: ipToBase64(ip.value) }, hboneMtlsPort: 15008 };
  return undefined;
}
