import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../api/istio/authorization-policy.ts';
import type { PeerAuthenticationSpec } from '../../api/istio/peer-authentication.ts';
import type { ServiceEntrySpec } from '../../api/istio/service-entry.ts';
import type { WorkloadEntrySpec } from '../../api/istio/workload-entry.ts';
import type { AddressResource, AuthorizationResource, WorkloadResource } from '../../api/workload/workload-types.ts';
import { bytesToIp } from '../../api/workload/workload-types.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import { configOrder, labelsMatch } from '../push/config-scope.ts';
import type { RegistrySnapshot } from '../registry/service.ts';
import { convertAuthorizationPolicy } from './ambient-authorization.ts';
import { convertPeerAuthentication, oldestNamespacePolicy, peerAuthenticationKeys, staticStrictPolicy } from './ambient-peer-authentication.ts';
import { serviceEntryWorkloads } from './service-entry-workloads.ts';
import { autoAllocatedVips } from './service-entry-vips.ts';
import { serviceKey, serviceResource } from './service-resource.ts';
import { ingressUsesWaypoint, WaypointIndex } from './waypoints.ts';
import { podWorkloadResource, workloadEntryResource, type WorkloadContext } from './workload-resource.ts';

/** One `istio.workload.Address` resource: its xDS name, its `network/IP` aliases, its body. */
export interface AddressEntry {
  name: string;
  aliases: readonly string[];
  resource: AddressResource;
  /** The node a workload runs on ('' when unknown); undefined for services. */
  node?: string;
}

export interface AuthorizationEntry {
  name: string;
  resource: AuthorizationResource;
}

export interface AmbientProblem {
  resource: string;
  message: string;
}

export interface AmbientMeshSettings {
  rootNamespace: string;
  trustDomain: string;
  clusterId?: string;
}

const TRAFFIC_DISTRIBUTION_ANNOTATION = 'networking.istio.io/traffic-distribution';

/**
 * The workload API view of one push (istiod's ambient index): every Workload (pods, WorkloadEntries,
 * ServiceEntry endpoints) and Service as Address resources, with name and alias lookups, the
 * workloads behind each service and on each node, and every Authorization (from
 * AuthorizationPolicy and PeerAuthentication). Immutable once built.
 */
export class AmbientIndex {
  readonly addresses: readonly AddressEntry[];
  readonly authorizations: readonly AuthorizationEntry[];
  readonly problems: readonly AmbientProblem[];
  private readonly byName = new Map<string, AddressEntry>();
  private readonly byAlias = new Map<string, AddressEntry[]>();
  private readonly byService = new Map<string, AddressEntry[]>();
  private readonly byNode = new Map<string, AddressEntry[]>();

  constructor(addresses: readonly AddressEntry[], authorizations: readonly AuthorizationEntry[], problems: readonly AmbientProblem[] = []) {
    this.addresses = addresses;
    this.authorizations = authorizations;
    this.problems = problems;
    for (const a of addresses) {
      this.byName.set(a.name, a);
      for (const alias of a.aliases) {
        const list = this.byAlias.get(alias);
        if (list) list.push(a);
        else this.byAlias.set(alias, [a]);
      }
      const w = a.resource.workload;
      if (w) {
        for (const key of Object.keys(w.services ?? {})) {
          const list = this.byService.get(key);
          if (list) list.push(a);
          else this.byService.set(key, [a]);
        }
        const node = a.node ?? '';
        if (node) {
          const list = this.byNode.get(node);
          if (list) list.push(a);
          else this.byNode.set(node, [a]);
        }
      }
    }
  }

  /** Resources a name designates: by resource name, else by `network/IP` alias. */
  lookup(name: string): readonly AddressEntry[] {
    const direct = this.byName.get(name);
    if (direct) return [direct];
    return this.byAlias.get(name) ?? [];
  }

  /** Workloads backing a service (`namespace/hostname`). */
  workloadsOfService(key: string): readonly AddressEntry[] {
    return this.byService.get(key) ?? [];
  }

  workloadsOnNode(node: string): readonly AddressEntry[] {
    return this.byNode.get(node) ?? [];
  }
}

/** Build the index from the config store and the registry of one push. */
export function buildAmbientIndex(config: ConfigStoreReader, registry: RegistrySnapshot, mesh: AmbientMeshSettings): AmbientIndex {
  const clusterId = mesh.clusterId ?? 'Kubernetes';
  const root = mesh.rootNamespace;
  const problems: AmbientProblem[] = [];

  // Authorization resources (AuthorizationPolicy, PeerAuthentication), and the selector-based
  // ones each workload must list.
  const authorizations: AuthorizationEntry[] = [];
  const selectorPolicies: { namespace: string; selector: Readonly<Record<string, string>>; key: string }[] = [];
  for (const r of config.list('AuthorizationPolicy') as readonly ConfigResource<AuthorizationPolicySpec>[]) {
    const ref = `AuthorizationPolicy ${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
    const { authorization, message } = convertAuthorizationPolicy(r, root);
    if (message) problems.push({ resource: ref, message });
    if (!authorization) continue;
    const key = `${authorization.namespace}/${authorization.name}`;
    authorizations.push({ name: key, resource: authorization });
    const selector = r.spec?.selector?.matchLabels;
    if (selector && Object.keys(selector).length > 0) selectorPolicies.push({ namespace: authorization.namespace, selector, key });
  }
  const peerAuthentications = [...(config.list('PeerAuthentication') as readonly ConfigResource<PeerAuthenticationSpec>[])].sort(configOrder);
  if (peerAuthentications.length > 0) {
    const strict = staticStrictPolicy(root);
    authorizations.push({ name: `${strict.namespace}/${strict.name}`, resource: strict });
  }
  const rootPolicy = oldestNamespacePolicy(peerAuthentications, root);
  for (const p of peerAuthentications) {
    const converted = convertPeerAuthentication(p, oldestNamespacePolicy(peerAuthentications, p.metadata.namespace ?? 'default'), rootPolicy, root);
    if (converted) authorizations.push({ name: `${converted.namespace}/${converted.name}`, resource: converted });
  }
  authorizations.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const policiesFor = (namespace: string, labels: Readonly<Record<string, string>>): string[] => {
    const keys = selectorPolicies.filter((p) => (p.namespace === namespace || p.namespace === root) && labelsMatch(p.selector, labels)).map((p) => p.key);
    keys.sort();
    const applicable = peerAuthentications.filter((p) => {
      const pns = p.metadata.namespace ?? 'default';
      const sel = p.spec?.selector?.matchLabels;
      const noSelector = !sel || Object.keys(sel).length === 0;
      if (pns === namespace) return noSelector || labelsMatch(sel, labels);
      return pns === root && noSelector;
    });
    return [...keys, ...peerAuthenticationKeys(applicable, root)];
  };

  // Which services each address backs, from the registry's endpoints (named target ports resolved).
  const servicesAt = new Map<string, Record<string, { ports: { servicePort: number; targetPort: number }[] }>>();
  for (const s of registry.services) {
    const key = serviceKey(s);
    for (const p of s.ports) {
      for (const e of registry.endpoints(s.hostname, p.port, s.namespace)) {
        let m = servicesAt.get(e.address);
        if (!m) servicesAt.set(e.address, (m = {}));
        (m[key] ??= { ports: [] }).ports.push({ servicePort: p.port, targetPort: e.port });
      }
    }
  }
  const waypoints = new WaypointIndex(config);
  // Workload.waypoint: a waypoint for workload-addressed traffic (waypoint-for workload/all), by
  // the object's own use-waypoint label, else its namespace's.
  const withWaypoint = (w: WorkloadResource | undefined, namespace: string, labels: Readonly<Record<string, string>>): WorkloadResource | undefined => {
    const waypoint = w && waypoints.forWorkload(namespace, labels)?.address;
    if (waypoint) w.waypoint = waypoint;
    return w;
  };
  const ctxFor = (address: string | undefined, namespace: string, labels: Readonly<Record<string, string>>): WorkloadContext => ({
    clusterId,
    trustDomain: mesh.trustDomain,
    services: (address && servicesAt.get(address)) || {},
    authorizationPolicies: policiesFor(namespace, labels),
  });

  const addresses: AddressEntry[] = [];
  const addWorkload = (w: WorkloadResource | undefined, node?: string): void => {
    if (!w) return;
    const aliases = (w.addresses ?? []).map((a) => `${w.network ?? ''}/${bytesToIp(Buffer.from(a, 'base64'))}`);
    addresses.push({ name: w.uid, aliases, resource: { workload: w }, node: node ?? w.node ?? '' });
  };
  for (const r of config.list('Pod')) {
    const ip = (r.raw.status as { podIP?: string } | undefined)?.podIP;
    const namespace = r.metadata.namespace ?? 'default';
    const labels = r.metadata.labels ?? {};
    addWorkload(withWaypoint(podWorkloadResource(r, ctxFor(ip, namespace, labels)), namespace, labels));
  }
  for (const r of config.list('WorkloadEntry') as readonly ConfigResource<WorkloadEntrySpec>[]) {
    const labels = { ...(r.spec?.labels ?? {}), ...(r.metadata.labels ?? {}) };
    const namespace = r.metadata.namespace ?? 'default';
    addWorkload(withWaypoint(workloadEntryResource(r, ctxFor(r.spec?.address, namespace, labels)), namespace, r.metadata.labels ?? {}));
  }
  for (const r of config.list('ServiceEntry') as readonly ConfigResource<ServiceEntrySpec>[]) {
    for (const w of serviceEntryWorkloads(r, clusterId, mesh.trustDomain, (address, labels) => ctxFor(address, r.metadata.namespace ?? 'default', labels))) addWorkload(w);
  }
  const vips = autoAllocatedVips(registry.services);
  for (const s of registry.services) {
    let trafficDistribution: string | undefined;
    if (s.registry === 'Kubernetes' && s.name) {
      const svc = config.get('Service', s.namespace, s.name);
      const ns = config.get('Namespace', undefined, s.namespace);
      trafficDistribution =
        ((svc?.spec as { trafficDistribution?: string } | undefined)?.trafficDistribution ?? svc?.metadata.annotations?.[TRAFFIC_DISTRIBUTION_ANNOTATION] ?? ns?.metadata.annotations?.[TRAFFIC_DISTRIBUTION_ANNOTATION]) || undefined;
    }
    const allocated = vips.get(`${s.namespace}/${s.hostname}`);
    const resource = serviceResource(s, { ...(trafficDistribution ? { trafficDistribution } : {}), ...(allocated ? { allocatedAddresses: [allocated[0]] } : {}) });
    const waypoint = waypoints.forService(s.namespace, s.labels)?.address;
    if (waypoint) resource.waypoint = waypoint;
    if (waypoint && ingressUsesWaypoint(config, s.namespace, s.labels)) resource.ingressUseWaypoint = true;
    const aliases = (resource.addresses ?? []).map((a) => `${a.network ?? ''}/${bytesToIp(Buffer.from(a.address, 'base64'))}`);
    addresses.push({ name: serviceKey(s), aliases, resource: { service: resource } });
  }
  addresses.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return new AmbientIndex(addresses, authorizations, problems);
}
