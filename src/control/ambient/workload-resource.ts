import type { ConfigResource } from '../../api/config-resource.ts';
import type { PodSpec } from '../../api/kube/pod.ts';
import type { WorkloadEntrySpec } from '../../api/istio/workload-entry.ts';
import type { Locality as WorkloadLocality, TunnelProtocol, WorkloadResource } from '../../api/workload/workload-types.ts';
import { AMBIENT_REDIRECTION_ANNOTATION, ipToBase64, TUNNEL_LABEL } from '../../api/workload/workload-types.ts';
import { podIP, podReady } from '../registry/pod-workload.ts';
import type { Locality } from '../registry/service.ts';
import { localityFromLabels, NETWORK_LABEL, parseLocality } from '../registry/workload-labels.ts';

/**
 * Pods and WorkloadEntries as `istio.workload.Workload` (istiod's podWorkloadBuilder and
 * workloadEntryWorkloadBuilder): uid `CLUSTER//Pod/NS/NAME` or
 * `CLUSTER/networking.istio.io/WorkloadEntry/NS/NAME`, tunnel protocol HBONE once the node agent
 * annotated `ambient.istio.io/redirection: enabled` (or natively for `networking.istio.io/tunnel:
 * http`), canonical name/revision and workload name for telemetry. Every pod with an IP is sent,
 * ambient or not: ztunnel needs to know what a destination is to reach it (plain TCP when NONE).
 */
export interface WorkloadContext {
  clusterId: string;
  trustDomain: string;
  /** namespace/hostname → ports of the services the workload backs. */
  services: Record<string, { ports: { servicePort: number; targetPort: number }[] }>;
  authorizationPolicies: string[];
}

export const podUid = (clusterId: string, namespace: string, name: string): string => `${clusterId}//Pod/${namespace}/${name}`;
export const workloadEntryUid = (clusterId: string, namespace: string, name: string): string => `${clusterId}/networking.istio.io/WorkloadEntry/${namespace}/${name}`;
export const serviceEntryWorkloadUid = (clusterId: string, namespace: string, name: string, address: string): string => `${clusterId}/networking.istio.io/ServiceEntry/${namespace}/${name}/${address}`;

/** The owning workload's name: ReplicaSet owner → its Deployment; else a `NAME-HASH-xxxxx` pod of a template hash; else the pod. */
export function podWorkloadName(r: ConfigResource): string {
  const owners = (r.metadata.ownerReferences as { kind?: string; name?: string }[] | undefined) ?? [];
  const hash = r.metadata.labels?.['pod-template-hash'];
  for (const o of owners) {
    if (!o?.name) continue;
    if (o.kind === 'ReplicaSet') return hash && o.name.endsWith(`-${hash}`) ? o.name.slice(0, -hash.length - 1) : o.name;
    if (o.kind === 'Job') {
      const m = /^(.*)-\d+$/.exec(o.name);
      return m ? m[1]! : o.name;
    }
    return o.name;
  }
  if (hash) {
    const i = r.metadata.name.lastIndexOf(`-${hash}-`);
    if (i > 0) return r.metadata.name.slice(0, i);
  }
  return r.metadata.name;
}

/** Istio's canonical service labels (service.istio.io/canonical-name|revision, app, version...). */
export function canonicalService(labels: Readonly<Record<string, string>>, workloadName: string): { name: string; revision: string } {
  return {
    name: labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? workloadName,
    revision: labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest',
  };
}

function tunnel(labels: Readonly<Record<string, string>>, annotations: Readonly<Record<string, string>>): { tunnelProtocol?: TunnelProtocol; nativeTunnel?: boolean } {
  if (labels[TUNNEL_LABEL] === 'http') return { tunnelProtocol: 'HBONE', nativeTunnel: true };
  if (annotations[AMBIENT_REDIRECTION_ANNOTATION] === 'enabled') return { tunnelProtocol: 'HBONE' };
  return {};
}

function locality(l: Locality | undefined): WorkloadLocality | undefined {
  return l ? { ...l } : undefined;
}

function terminal(r: ConfigResource): boolean {
  const phase = (r.raw.status as { phase?: string } | undefined)?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** A pod as a Workload; undefined when it has no IP or has terminated. */
export function podWorkloadResource(r: ConfigResource, ctx: WorkloadContext): WorkloadResource | undefined {
  const ip = podIP(r);
  if (!ip || terminal(r)) return undefined;
  const spec = (r.spec ?? {}) as PodSpec;
  const labels = r.metadata.labels ?? {};
  const annotations = r.metadata.annotations ?? {};
  const namespace = r.metadata.namespace ?? 'default';
  const ips = ((r.raw.status as { podIPs?: { ip?: string }[] } | undefined)?.podIPs ?? []).map((p) => p?.ip).filter((x): x is string => typeof x === 'string' && x !== '');
  const workloadName = podWorkloadName(r);
  const canonical = canonicalService(labels, workloadName);
  const healthy = podReady(r) && r.metadata.deletionTimestamp === undefined;
  const w: WorkloadResource = {
    uid: podUid(ctx.clusterId, namespace, r.metadata.name),
    name: r.metadata.name,
    namespace,
    addresses: (ips.length > 0 ? ips : [ip]).map(ipToBase64),
    network: labels[NETWORK_LABEL] ?? '',
    ...tunnel(labels, annotations),
    trustDomain: ctx.trustDomain === 'cluster.local' ? '' : ctx.trustDomain,
    serviceAccount: spec.serviceAccountName ?? spec.serviceAccount ?? 'default',
    node: spec.nodeName ?? '',
    canonicalName: canonical.name,
    canonicalRevision: canonical.revision,
    workloadType: 'POD',
    workloadName,
    services: ctx.services,
    authorizationPolicies: ctx.authorizationPolicies,
    status: healthy ? 'HEALTHY' : 'UNHEALTHY',
    clusterId: ctx.clusterId,
  };
  const loc = locality(localityFromLabels(labels));
  if (loc) w.locality = loc;
  if (spec.hostNetwork) w.networkMode = 'HOST_NETWORK';
  return w;
}

/** A WorkloadEntry as a Workload (address or hostname). */
export function workloadEntryResource(r: ConfigResource<WorkloadEntrySpec>, ctx: WorkloadContext): WorkloadResource | undefined {
  const spec = r.spec ?? {};
  const namespace = r.metadata.namespace ?? 'default';
  const labels = { ...(spec.labels ?? {}), ...(r.metadata.labels ?? {}) };
  const address = spec.address ?? '';
  const isIp = /^[0-9.]+$/.test(address) || address.includes(':');
  if (!address && !spec.network) return undefined;
  const canonical = canonicalService(labels, r.metadata.name);
  const w: WorkloadResource = {
    uid: workloadEntryUid(ctx.clusterId, namespace, r.metadata.name),
    name: r.metadata.name,
    namespace,
    ...(isIp ? { addresses: [ipToBase64(address)] } : address ? { hostname: address } : {}),
    network: spec.network ?? labels[NETWORK_LABEL] ?? '',
    ...tunnel(labels, r.metadata.annotations ?? {}),
    trustDomain: ctx.trustDomain === 'cluster.local' ? '' : ctx.trustDomain,
    serviceAccount: spec.serviceAccount ?? 'default',
    canonicalName: canonical.name,
    canonicalRevision: canonical.revision,
    workloadType: 'POD',
    workloadName: r.metadata.name,
    services: ctx.services,
    authorizationPolicies: ctx.authorizationPolicies,
    status: 'HEALTHY',
    clusterId: ctx.clusterId,
  };
  const loc = locality(parseLocality(spec.locality) ?? localityFromLabels(labels));
  if (loc) w.locality = loc;
  if (spec.weight) w.capacity = spec.weight;
  return w;
}
