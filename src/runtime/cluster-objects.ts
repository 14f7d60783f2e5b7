import { resourceKey, type ConfigResource } from '../api/config-resource.ts';
import { KINDS } from '../api/kinds.ts';
import type { ServiceSpec } from '../api/kube/service.ts';
import { AddressPool } from './ipam.ts';
import type { ServiceView } from './service-endpoints.ts';

const CLUSTER_SCOPED = new Set(KINDS.filter((k) => !k.namespaced).map((k) => k.kind));

/**
 * The objects of a local mesh as the API server would hold them: Kubernetes and Istio resources
 * by `group/Kind/namespace/name`, namespaced ones defaulted to `default` (kubectl's rule), and
 * Services given a VIP from the service CIDR in `spec.clusterIP` (kept across updates).
 */
export class ClusterObjects {
  readonly vips: AddressPool;
  private readonly objects = new Map<string, ConfigResource>();

  constructor(serviceCidr: string) {
    this.vips = new AddressPool(serviceCidr, { firstOffset: 10 });
  }

  /** The resource with its namespace defaulted (cluster-scoped kinds unchanged). */
  normalize(r: ConfigResource): ConfigResource {
    if (CLUSTER_SCOPED.has(r.kind) || r.metadata.namespace) return r;
    const metadata = { ...r.metadata, namespace: 'default' };
    const rawMeta = { ...((r.raw.metadata as Record<string, unknown>) ?? {}), namespace: 'default' };
    return { ...r, metadata, raw: { ...r.raw, metadata: rawMeta } };
  }

  get(key: string): ConfigResource | undefined {
    return this.objects.get(key);
  }

  /** Store a (normalized) resource; returns what is stored (a Service with its VIP) and the previous version. */
  put(r: ConfigResource): { stored: ConfigResource; prev: ConfigResource | undefined } {
    const key = resourceKey(r);
    const prev = this.objects.get(key);
    const stored = r.kind === 'Service' && r.group === '' ? this.withClusterIp(r, prev) : r;
    this.objects.set(key, stored);
    return { stored, prev };
  }

  remove(key: string): ConfigResource | undefined {
    const prev = this.objects.get(key);
    if (!prev) return undefined;
    this.objects.delete(key);
    if (prev.kind === 'Service') this.vips.release(key);
    return prev;
  }

  /** Every object, in key order. */
  all(): ConfigResource[] {
    return [...this.objects.values()].sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));
  }

  list(kind: string): ConfigResource[] {
    return [...this.objects.values()].filter((r) => r.kind === kind).sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));
  }

  namespaceLabels(ns: string): Record<string, string> {
    const n = this.objects.get(`/Namespace//${ns}`);
    return (n?.metadata.labels as Record<string, string> | undefined) ?? {};
  }

  serviceViews(): ServiceView[] {
    return this.list('Service')
      .filter((s) => s.group === '')
      .map((s) => ({ name: s.metadata.name, namespace: s.metadata.namespace ?? 'default', vip: (s.spec as ServiceSpec).clusterIP ?? '', spec: s.spec as ServiceSpec }));
  }

  /** Give a Service its VIP (kept across updates) and write it into spec.clusterIP. */
  private withClusterIp(r: ConfigResource, prev: ConfigResource | undefined): ConfigResource {
    const spec = r.spec as ServiceSpec;
    if (spec.clusterIP === 'None') return r;
    const key = resourceKey(r);
    const prevIp = prev ? (prev.spec as ServiceSpec).clusterIP : undefined;
    const requested = spec.clusterIP && spec.clusterIP !== prevIp ? spec.clusterIP : undefined;
    if (requested) this.vips.release(key);
    const vip = this.vips.allocate(key, requested);
    const newSpec = { ...spec, clusterIP: vip, clusterIPs: [vip] };
    const rawSpec = { ...((r.raw.spec as Record<string, unknown>) ?? {}), clusterIP: vip, clusterIPs: [vip] };
    return { ...r, spec: newSpec, raw: { ...r.raw, spec: rawSpec } };
  }
}
