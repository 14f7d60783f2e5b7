import { resourceKey, splitApiVersion, type ConfigResource } from '../../../api/config-resource.ts';
import { KINDS } from '../../../api/kinds.ts';
import type { KubeApi, KubeApiError } from '../../../lib/kube/kube-api.ts';
import { Reflector, type KubeObject, type ReflectorOptions } from '../../../lib/kube/reflector.ts';
import type { Logger } from '../../../lib/log.ts';
import { labelSelectorMatches } from '../../analyze/label-selector.ts';
import type { ConfigStore } from '../config-store.ts';
import type { ConfigError } from './config-error.ts';
import { acceptAll, judgeResource, type ResourceValidator } from './resource-validator.ts';

export interface KubeSourceOptions {
  api: KubeApi;
  store: ConfigStore;
  validate: ResourceValidator;
  log: Logger;
  /** Where the `istio` and `istio-sidecar-injector` ConfigMaps live (istio-system). */
  systemNamespace: string;
  /** MeshConfig `discoverySelectors` in force (re-read on every namespace or mesh change). */
  discoverySelectors: () => readonly unknown[] | undefined;
  /** Reflector tuning (tests shorten the watch timeouts). */
  reflector?: Pick<ReflectorOptions, 'minWatchTimeoutSeconds' | 'inactivityMs' | 'backoff'>;
}

interface Collection {
  id: string;
  reflector: Reflector;
  /** Everything the API server holds (validated, last valid version per key), before selection. */
  objects: Map<string, ConfigResource>;
  /** Namespaced and subject to discoverySelectors. */
  selected: boolean;
}

const ISTIO_GROUP = /(^|\.)istio\.io$/;
/** Kubernetes collections read in every cluster; Istio's come from their CRDs. */
const CORE: readonly { kind: string; apiVersion: string; path: string; selected: boolean }[] = [
  { kind: 'Namespace', apiVersion: 'v1', path: '/api/v1/namespaces', selected: false },
  { kind: 'Node', apiVersion: 'v1', path: '/api/v1/nodes', selected: false },
  { kind: 'Service', apiVersion: 'v1', path: '/api/v1/services', selected: true },
  { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', path: '/apis/discovery.k8s.io/v1/endpointslices', selected: true },
  { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods', selected: true },
];

/**
 * Kubernetes as one more config source (`mizzen discovery --kube`): list+watch of Namespaces,
 * Nodes, Services, EndpointSlices, Pods, the mesh ConfigMaps of the system namespace, and every
 * Istio CRD kind once its CRD exists (a missing CRD is a warning). Objects go through the same
 * validation as files; each collection is its own store source (`kube/<Kind>`), so a re-list
 * replaces exactly that collection. MeshConfig `discoverySelectors` limit the namespaces whose
 * objects are stored (the system namespace always counts).
 */
export class KubeSource {
  private readonly o: KubeSourceOptions;
  private readonly collections = new Map<string, Collection>();
  private readonly problemsByKey = new Map<string, ConfigError>();
  private readonly crdVersions = new Map<string, string>();
  private crdReflector: Reflector | undefined;
  private crdsSynced = false;
  private closed = false;
  private selectorsKey = '';

  constructor(options: KubeSourceOptions) {
    this.o = options;
  }

  /** Start every watch; resolves once each collection listed once (retrying while it cannot). */
  async start(): Promise<void> {
    for (const c of CORE) this.addCollection(c.kind, c.apiVersion, c.path, c.selected);
    this.addCollection('ConfigMap', 'v1', `/api/v1/namespaces/${this.o.systemNamespace}/configmaps`, false, (o) => /^istio(-sidecar-injector)?(-.+)?$/.test(String(o.metadata?.name ?? '')));
    const crds = new Map<string, KubeObject>();
    this.crdReflector = new Reflector({
      ...this.reflectorBase('CustomResourceDefinitions'),
      path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      onSync: (items) => {
        crds.clear();
        for (const i of items) crds.set(String(i.metadata?.name), i);
        this.reconcileCrds([...crds.values()]);
      },
      onEvent: (type, obj) => {
        if (type === 'DELETED') crds.delete(String(obj.metadata?.name));
        else crds.set(String(obj.metadata?.name), obj);
        this.reconcileCrds([...crds.values()]);
      },
    });
    this.crdReflector.start();
    await this.crdReflector.synced();
    this.crdsSynced = true;
    await Promise.all([...this.collections.values()].map((c) => c.reflector.synced()));
  }

  /** Have all collections (including those of CRDs found so far) listed once? */
  synced(): boolean {
    return this.crdsSynced && [...this.collections.values()].every((c) => c.reflector.isSynced);
  }

  /** Warnings and errors for `/debug/configz`: failing watches, missing CRDs, rejected objects. */
  problems(): ConfigError[] {
    const out = [...this.problemsByKey.values()];
    for (const c of [this.crdReflector, ...[...this.collections.values()].map((x) => x.reflector)]) {
      const e = c?.lastError;
      if (e) out.push({ file: this.o.api.server, line: 0, message: e.message, level: 'error' });
    }
    return out;
  }

  /** Re-apply discoverySelectors (MeshConfig changed). */
  refreshSelection(): void {
    const key = JSON.stringify(this.o.discoverySelectors() ?? null);
    if (key === this.selectorsKey) return;
    this.selectorsKey = key;
    for (const c of this.collections.values()) if (c.selected) this.o.store.replaceSource(c.id, this.selectedOf(c));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.crdReflector?.close(), ...[...this.collections.values()].map((c) => c.reflector.close())]);
  }

  // ---- collections -------------------------------------------------------------------------

  private reflectorBase(what: string): Pick<ReflectorOptions, 'api' | 'what' | 'log' | 'onError' | 'minWatchTimeoutSeconds' | 'inactivityMs' | 'backoff'> {
    return {
      api: this.o.api,
      what,
      log: this.o.log,
      onError: (e: KubeApiError) => void e,
      ...this.o.reflector,
    };
  }

  private addCollection(kind: string, apiVersion: string, path: string, selected: boolean, keep: (o: KubeObject) => boolean = () => true): void {
    const id = `kube/${kind}`;
    const objects = new Map<string, ConfigResource>();
    const c: Collection = {
      id,
      objects,
      selected,
      reflector: new Reflector({
        ...this.reflectorBase(`${kind} (${apiVersion})`),
        path,
        apiVersion,
        kind,
        onSync: (items) => {
          const next = new Map<string, ConfigResource>();
          for (const item of items) {
            if (!keep(item)) continue;
            const r = this.accept(toResource(item), objects);
            if (r) next.set(resourceKey(r), r);
          }
          objects.clear();
          for (const [k, r] of next) objects.set(k, r);
          if (kind === 'Namespace') this.namespacesChanged();
          this.o.store.replaceSource(id, this.selectedOf(c));
        },
        onEvent: (type, item) => {
          if (!keep(item)) return;
          const incoming = toResource(item);
          const key = resourceKey(incoming);
          if (type === 'DELETED') {
            objects.delete(key);
            this.problemsByKey.delete(key);
            this.o.store.delete(id, [incoming]);
          } else {
            const r = this.accept(incoming, objects);
            if (!r) return;
            objects.set(key, r);
            if (!c.selected || this.namespaceSelected(r.metadata.namespace)) this.o.store.apply(id, [r]);
            else this.o.store.delete(id, [r]);
          }
          if (kind === 'Namespace') this.namespacesChanged();
        },
      }),
    };
    this.collections.set(id, c);
    c.reflector.start();
  }

  /** Validate; an invalid object keeps the last valid version of the same key (if any). */
  private accept(r: ConfigResource, current: Map<string, ConfigResource>): ConfigResource | undefined {
    const key = resourceKey(r);
    // The API server validated Kubernetes kinds already; Istio kinds may predate our webhook.
    const info = KINDS.find((k) => k.kind === r.kind && k.group === r.group);
    const verdict = judgeResource(r, info && !info.istio ? acceptAll : this.o.validate);
    if (verdict.accept) {
      if (verdict.warnings.length > 0) this.problemsByKey.set(key, verdict.warnings[0]);
      else this.problemsByKey.delete(key);
      return r;
    }
    const first = verdict.errors[0] ?? verdict.warnings[0];
    if (first) {
      this.problemsByKey.set(key, first);
      this.o.log.warn({ resource: first.resource, path: first.path }, `${verdict.errors.length > 0 ? 'invalid object in the API server' : 'object not served'}: ${first.message}`);
    }
    return current.get(key);
  }

  private namespacesChanged(): void {
    this.selectorsKey = '';
    this.refreshSelection();
  }

  private namespaceSelected(namespace: string | undefined): boolean {
    const selectors = this.o.discoverySelectors();
    if (!selectors || selectors.length === 0 || !namespace || namespace === this.o.systemNamespace) return true;
    const ns = this.collections.get('kube/Namespace')?.objects.get(`/Namespace//${namespace}`);
    const labels = { 'kubernetes.io/metadata.name': namespace, ...(ns?.metadata.labels ?? {}) };
    return selectors.some((s) => labelSelectorMatches(s, labels));
  }

  private selectedOf(c: Collection): ConfigResource[] {
    const all = [...c.objects.values()];
    return c.selected ? all.filter((r) => this.namespaceSelected(r.metadata.namespace)) : all;
  }

  // ---- Istio CRDs ---------------------------------------------------------------------------

  /** Watch the kind of every Istio CRD that is Established; stop watching kinds whose CRD went. */
  private reconcileCrds(crds: KubeObject[]): void {
    if (this.closed) return;
    const wanted = new Map<string, { kind: string; apiVersion: string; path: string }>();
    for (const crd of crds) {
      const spec = (crd.spec ?? {}) as { group?: string; names?: { kind?: string; plural?: string }; scope?: string; versions?: { name: string; served?: boolean; storage?: boolean }[] };
      if (!spec.group || !ISTIO_GROUP.test(spec.group) || !spec.names?.kind || !spec.names.plural) continue;
      const conditions = ((crd.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []);
      if (!conditions.some((c) => c.type === 'Established' && c.status === 'True')) continue;
      const served = (spec.versions ?? []).filter((v) => v.served !== false).map((v) => v.name);
      // The newest version Mizzen knows that the CRD serves; else the CRD's storage version.
      const known = KINDS.find((k) => k.kind === spec.names!.kind && k.group === spec.group);
      const version = known?.versions.find((v) => served.includes(v)) ?? (spec.versions ?? []).find((v) => v.storage)?.name ?? served[0];
      if (!version) continue;
      const apiVersion = `${spec.group}/${version}`;
      wanted.set(`kube/${spec.names.kind}`, { kind: spec.names.kind, apiVersion, path: `/apis/${spec.group}/${version}/${spec.names.plural}` });
    }
    for (const [id, c] of this.collections) {
      const core = CORE.some((k) => `kube/${k.kind}` === id) || id === 'kube/ConfigMap';
      if (core) continue;
      const w = wanted.get(id);
      if (!w || this.crdVersions.get(id) !== w.apiVersion) {
        this.collections.delete(id);
        this.crdVersions.delete(id);
        void c.reflector.close();
        this.o.store.replaceSource(id, []);
        if (!w) this.o.log.warn({ collection: id }, 'CRD removed: its objects are no longer served');
      }
    }
    for (const [id, w] of wanted) {
      if (this.collections.has(id)) continue;
      this.crdVersions.set(id, w.apiVersion);
      this.addCollection(w.kind, w.apiVersion, w.path, true);
    }
    for (const k of KINDS) {
      const key = `crd/${k.kind}`;
      if (!k.istio) continue;
      if (wanted.has(`kube/${k.kind}`)) this.problemsByKey.delete(key);
      else if (!this.problemsByKey.has(key)) {
        const message = `CRD ${k.plural}.${k.group} is not installed (or not Established): no ${k.kind} is read from the API server until it is (hint: mizzen install applies Istio's CRDs)`;
        this.problemsByKey.set(key, { file: this.o.api.server, line: 0, message, level: 'warning' });
        this.o.log.warn({ kind: k.kind }, message);
      }
    }
  }
}

/** An API object as a ConfigResource (payload under `spec`, or everything but the envelope). */
export function toResource(obj: KubeObject): ConfigResource {
  const apiVersion = String(obj.apiVersion);
  const kind = String(obj.kind);
  const { managedFields: _managed, ...metadata } = (obj.metadata ?? {}) as Record<string, unknown>;
  const raw: Record<string, unknown> = { ...obj, metadata };
  let spec: Record<string, unknown>;
  if (typeof obj.spec === 'object' && obj.spec !== null) spec = obj.spec as Record<string, unknown>;
  else spec = Object.fromEntries(Object.entries(obj).filter(([k]) => k !== 'apiVersion' && k !== 'kind' && k !== 'metadata' && k !== 'status'));
  const { group, version } = splitApiVersion(apiVersion);
  return { apiVersion, kind, group, version, metadata: metadata as ConfigResource['metadata'], spec, raw };
}

