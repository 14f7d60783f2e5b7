import type { ConfigResource } from '../../api/config-resource.ts';
import type { HTTPMatchRequest, HTTPRoute, VirtualServiceSpec } from '../../api/istio/virtual-service.ts';
import { configOrder, exportedTo } from './config-scope.ts';
import { resolveShortName } from './host-match.ts';

/** A VirtualService ready for generation: hosts as FQDNs, gateways as `ns/name`, delegates inlined. */
export interface VirtualServiceView {
  resource: ConfigResource<VirtualServiceSpec>;
  namespace: string;
  name: string;
  hosts: readonly string[];
  /** `mesh` or `ns/name`. */
  gateways: readonly string[];
  http: readonly HTTPRoute[];
  spec: VirtualServiceSpec;
}

export const MESH_GATEWAY = 'mesh';

/** `mesh`, `ns/name`, or a short gateway name resolved against the VirtualService's namespace. */
export function resolveGatewayName(name: string, namespace: string): string {
  if (name === MESH_GATEWAY || name.includes('/')) return name;
  // `name.ns.svc.cluster.local` form (older Istio): keep name and namespace.
  const parts = name.split('.');
  if (parts.length >= 2) return `${parts[1]}/${parts[0]}`;
  return `${namespace}/${name}`;
}

/** Index of VirtualServices: root services (with hosts) per gateway, delegates resolved once. */
export class VirtualServiceIndex {
  private readonly byGateway = new Map<string, VirtualServiceView[]>();
  private readonly all: VirtualServiceView[] = [];

  constructor(resources: readonly ConfigResource[], domainSuffix: string) {
    const vs = resources.filter((r) => r.kind === 'VirtualService') as ConfigResource<VirtualServiceSpec>[];
    const sorted = [...vs].sort(configOrder);
    const byKey = new Map<string, ConfigResource<VirtualServiceSpec>>();
    for (const r of sorted) byKey.set(`${r.metadata.namespace ?? 'default'}/${r.metadata.name}`, r);
    for (const r of sorted) {
      const spec = r.spec ?? {};
      const hosts = spec.hosts ?? [];
      if (hosts.length === 0) continue; // a delegate: used only through its root
      const namespace = r.metadata.namespace ?? 'default';
      const gateways = (spec.gateways && spec.gateways.length > 0 ? spec.gateways : [MESH_GATEWAY]).map((g) => resolveGatewayName(g, namespace));
      const view: VirtualServiceView = {
        resource: r,
        namespace,
        name: r.metadata.name,
        hosts: hosts.map((h) => resolveShortName(h, namespace, domainSuffix)),
        gateways,
        http: inlineDelegates(spec.http ?? [], namespace, byKey, domainSuffix),
        spec,
      };
      this.all.push(view);
      for (const g of gateways) {
        const list = this.byGateway.get(g) ?? [];
        list.push(view);
        this.byGateway.set(g, list);
      }
    }
  }

  /** Root VirtualServices bound to a gateway (`mesh` or `ns/name`) and visible in `viewerNs`. */
  forGateway(gateway: string, viewerNs: string): readonly VirtualServiceView[] {
    return (this.byGateway.get(gateway) ?? []).filter((v) => exportedTo(v.spec.exportTo, v.namespace, viewerNs));
  }

  /** Root VirtualServices bound to any of the gateways in match-level `gateways` too. */
  list(): readonly VirtualServiceView[] {
    return this.all;
  }
}

function inlineDelegates(routes: readonly HTTPRoute[], namespace: string, byKey: Map<string, ConfigResource<VirtualServiceSpec>>, domainSuffix: string): HTTPRoute[] {
  const out: HTTPRoute[] = [];
  for (const route of routes) {
    if (!route.delegate) {
      out.push(route);
      continue;
    }
    const delegateNs = route.delegate.namespace ?? namespace;
    const key = `${delegateNs}/${route.delegate.name ?? ''}`;
    const delegate = byKey.get(key);
    if (!delegate || (delegate.spec.hosts ?? []).length > 0) continue; // missing delegate: the route is dropped
    for (const child of delegate.spec.http ?? []) {
      if (child.delegate) continue; // Istio allows one level of delegation
      const matches = mergeMatches(route.match, child.match);
      if (matches === null) continue;
      out.push({ ...qualifyHosts(child, delegateNs, domainSuffix), ...(matches ? { match: matches } : {}) });
    }
  }
  return out;
}

/** A delegate's short destination hosts name services of the delegate's namespace, not the root's. */
function qualifyHosts(route: HTTPRoute, ns: string, domainSuffix: string): HTTPRoute {
  const q = <T extends { host?: string } | undefined>(d: T): T => (d && d.host ? { ...d, host: resolveShortName(d.host, ns, domainSuffix) } : d);
  return {
    ...route,
    ...(route.route ? { route: route.route.map((r) => ({ ...r, destination: q(r.destination) })) } : {}),
    ...(route.mirror ? { mirror: q(route.mirror) } : {}),
    ...(route.mirrors ? { mirrors: route.mirrors.map((m) => ({ ...m, destination: q(m.destination) })) } : {}),
  };
}

/**
 * Merge the root route's matches with a delegate route's (Istio's mergeHTTPMatchRequests): every
 * root × child pair whose conditions agree; the child narrows the root. null: nothing can match.
 */
function mergeMatches(root: HTTPMatchRequest[] | undefined, child: HTTPMatchRequest[] | undefined): HTTPMatchRequest[] | undefined | null {
  if (!root || root.length === 0) return child;
  if (!child || child.length === 0) return root;
  const out: HTTPMatchRequest[] = [];
  for (const r of root) {
    for (const c of child) {
      const merged = mergeOne(r, c);
      if (merged) out.push(merged);
    }
  }
  return out.length > 0 ? out : null;
}

function mergeOne(root: HTTPMatchRequest, child: HTTPMatchRequest): HTTPMatchRequest | undefined {
  const merged: HTTPMatchRequest = { ...root, ...child };
  if (root.uri && child.uri) {
    const rootPrefix = root.uri.prefix ?? root.uri.exact;
    const childValue = child.uri.prefix ?? child.uri.exact;
    if (root.uri.exact !== undefined && child.uri.exact !== root.uri.exact) return undefined;
    if (rootPrefix !== undefined && childValue !== undefined && !childValue.startsWith(rootPrefix)) return undefined;
  }
  if (root.headers || child.headers) merged.headers = { ...root.headers, ...child.headers };
  if (root.queryParams || child.queryParams) merged.queryParams = { ...root.queryParams, ...child.queryParams };
  if (root.withoutHeaders || child.withoutHeaders) merged.withoutHeaders = { ...root.withoutHeaders, ...child.withoutHeaders };
  if (root.sourceLabels || child.sourceLabels) merged.sourceLabels = { ...root.sourceLabels, ...child.sourceLabels };
  return merged;
}
