import { randomUUID } from 'node:crypto';
import { resourceKey, type ConfigResource } from '../api/config-resource.ts';
import { KINDS } from '../api/kinds.ts';
import type { ServiceSpec } from '../api/kube/service.ts';
import { AddressPool } from './ipam.ts';
import type { ServiceView } from './service-endpoints.ts';

const CLUSTER_SCOPED = new Set(KINDS.filter((k) => !k.namespaced).map((k) => k.kind));

/** Namespaces every cluster has (kubectl get ns on a fresh cluster with Istio installed). */
export const SYSTEM_NAMESPACES: readonly string[] = ['default', 'istio-system', 'kube-node-lease', 'kube-public', 'kube-system'];

/** Metadata the API server owns: set on write, never taken from a manifest. */
const MANAGED_METADATA = ['creationTimestamp', 'uid', 'resourceVersion', 'generation', 'managedFields', 'selfLink'];

/** A resource's user content (no server-managed metadata, no status), for "unchanged" checks. */
function content(raw: Record<string, unknown>): string {
  const meta = { ...((raw.metadata as Record<string, unknown>) ?? {}) };
  for (const k of MANAGED_METADATA) delete meta[k];
  const { status: _status, ...rest } = raw;
  return JSON.stringify({ ...rest, metadata: meta });
}

function specOf(raw: Record<string, unknown>): string {
  const { metadata: _m, status: _s, ...rest } = raw;
  return JSON.stringify(rest);
}

/** What `put` did. */
export interface PutResult {
  stored: ConfigResource;
  prev: ConfigResource | undefined;
  /** false when the new content equals what was stored (kubectl's "unchanged"). */
  changed: boolean;
}

/**
 * The objects of a local mesh as the API server would hold them: Kubernetes and Istio resources
 * by `group/Kind/namespace/name`, namespaced ones defaulted to `default` (kubectl's rule), the
 * metadata the API server sets (creationTimestamp, uid, resourceVersion, generation), and
 * Services given a VIP from the service CIDR in `spec.clusterIP` (kept across updates).
 * Namespaces that objects live in exist (the system ones from the start; others are created
 * on first use, unlabelled).
 */
export class ClusterObjects {
  readonly vips: AddressPool;
  private readonly objects = new Map<string, ConfigResource>();
  private readonly now: () => number;
  private resourceVersion = 0;

  constructor(serviceCidr: string, now: () => number = Date.now) {
    this.vips = new AddressPool(serviceCidr, { firstOffset: 10 });
    this.now = now;
    for (const ns of SYSTEM_NAMESPACES) this.ensureNamespace(ns);
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

  /**
   * Store a (normalized) resource; returns what is stored (a Service with its VIP) and the
   * previous version. As a write of the main resource to the API server, it leaves the status
   * alone: a status in `r` is ignored, the stored one is kept (write status with `putStatus`).
   */
  put(r: ConfigResource): PutResult {
    const key = resourceKey(r);
    const prev = this.objects.get(key);
    const withIp = r.kind === 'Service' && r.group === '' ? this.withClusterIp(r, prev) : r;
    if (prev && content(prev.raw) === content(withIp.raw)) return { stored: prev, prev, changed: false };
    const stored = this.stamp(withIp, prev);
    this.objects.set(key, stored);
    if (!CLUSTER_SCOPED.has(r.kind) && r.metadata.namespace) this.ensureNamespace(r.metadata.namespace);
    return { stored, prev, changed: true };
  }

  /**
   * Write an object's status (the API server's status subresource): the rest of the object is
   * unchanged, its resourceVersion bumped, its generation not. Undefined when the object is gone.
   */
  putStatus(key: string, status: unknown): ConfigResource | undefined {
    const prev = this.objects.get(key);
    if (!prev) return undefined;
    const resourceVersion = String(++this.resourceVersion);
    const metadata = { ...prev.metadata, resourceVersion };
    const rawMeta = { ...((prev.raw.metadata as Record<string, unknown>) ?? {}), resourceVersion };
    const stored = { ...prev, metadata, raw: { ...prev.raw, metadata: rawMeta, status } };
    this.objects.set(key, stored);
    return stored;
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

  /** Every namespaced object in a namespace (what deleting the namespace removes). */
  inNamespace(ns: string): ConfigResource[] {
    return [...this.objects.values()].filter((r) => !CLUSTER_SCOPED.has(r.kind) && r.metadata.namespace === ns);
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

  /** A Namespace object exists for `ns` (created unlabelled when missing). */
  private ensureNamespace(ns: string): void {
    const key = `/Namespace//${ns}`;
    if (this.objects.has(key)) return;
    const raw = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } };
    this.objects.set(key, this.stamp({ apiVersion: 'v1', kind: 'Namespace', group: '', version: 'v1', metadata: { name: ns }, spec: {}, raw }, undefined));
  }

  /**
   * The API server's metadata: kept from the previous version, resourceVersion bumped, generation
   * bumped on a spec change; the status is the previous version's (none for a new object).
   */
  private stamp(r: ConfigResource, prev: ConfigResource | undefined): ConfigResource {
    const pm = prev?.metadata;
    const specChanged = !prev || specOf(prev.raw) !== specOf(r.raw);
    const managed = {
      creationTimestamp: pm?.creationTimestamp ?? new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      uid: pm?.uid ?? randomUUID(),
      resourceVersion: String(++this.resourceVersion),
      generation: (pm?.generation ?? 0) + (specChanged ? 1 : 0),
    };
    const { status: _status, ...raw } = r.raw;
    const metadata = { ...r.metadata, ...managed };
    const rawMeta = { ...((raw.metadata as Record<string, unknown>) ?? {}), ...managed };
    const status = prev?.raw.status;
    return { ...r, metadata, raw: { ...raw, metadata: rawMeta, ...(status !== undefined ? { status } : {}) } };
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
