import { resourceRef, type ConfigResource } from '../../api/config-resource.ts';
import { newMessage, type AnalysisMessage } from './analysis-message.ts';
import { messageType } from './message-catalog.ts';

/** Annotation listing message codes (or `*`) not to report for a resource. */
export const SUPPRESS_ANNOTATION = 'galley.istio.io/analyze-suppress';

/** Mesh-wide settings the analyzers read, with Istio's field names (a MeshConfig object). */
export type MeshConfigObject = Record<string, unknown>;

export interface AnalysisContextOptions {
  /** Istio's system namespace (istioctl `--istioNamespace`); default `istio-system`. */
  istioNamespace?: string;
  /** MeshConfig as given by the user (merged over Istio's defaults). */
  meshConfig?: MeshConfigObject;
  /** MeshNetworks as given by the user, if any. */
  meshNetworks?: Record<string, unknown>;
  /** For multi-cluster analysis: the cluster each resource was read from. */
  clusterOf?: ReadonlyMap<ConfigResource, string>;
}

/** Group of each kind the analyzers look up by bare kind name (Istio's collections). */
const DEFAULT_GROUP: Readonly<Record<string, string>> = {
  VirtualService: 'networking.istio.io',
  DestinationRule: 'networking.istio.io',
  Gateway: 'networking.istio.io',
  ServiceEntry: 'networking.istio.io',
  WorkloadEntry: 'networking.istio.io',
  WorkloadGroup: 'networking.istio.io',
  Sidecar: 'networking.istio.io',
  EnvoyFilter: 'networking.istio.io',
  PeerAuthentication: 'security.istio.io',
  RequestAuthentication: 'security.istio.io',
  AuthorizationPolicy: 'security.istio.io',
  Telemetry: 'telemetry.istio.io',
  WasmPlugin: 'extensions.istio.io',
  Namespace: '',
  Service: '',
  Pod: '',
  ConfigMap: '',
  Secret: '',
  ServiceAccount: '',
  Endpoints: '',
  Deployment: 'apps',
  MutatingWebhookConfiguration: 'admissionregistration.k8s.io',
  ValidatingWebhookConfiguration: 'admissionregistration.k8s.io',
  CustomResourceDefinition: 'apiextensions.k8s.io',
  MeshConfig: 'mesh.istio.io',
  MeshNetworks: 'mesh.istio.io',
};

/** Istio's defaults for the MeshConfig fields analyzers read. */
export function defaultMeshConfig(): MeshConfigObject {
  return {
    rootNamespace: 'istio-system',
    trustDomain: 'cluster.local',
    ingressService: 'istio-ingressgateway',
    ingressControllerMode: 'STRICT',
    ingressClass: 'istio',
    enableAutoMtls: true,
    defaultConfig: {},
    extensionProviders: [],
  };
}

function kindKey(kind: string, group?: string): string {
  return `${group ?? DEFAULT_GROUP[kind] ?? ''}/${kind}`;
}

/**
 * What every analyzer sees: the input resources indexed by kind and name, the mesh config and
 * the root/system namespace, and a sink for messages. One context per analysis run.
 */
export class AnalysisContext {
  readonly istioNamespace: string;
  readonly meshConfig: MeshConfigObject;
  readonly meshNetworks: Record<string, unknown> | undefined;
  readonly messages: AnalysisMessage[] = [];
  private readonly byKind = new Map<string, ConfigResource[]>();
  private readonly byName = new Map<string, ConfigResource>();
  private currentAnalyzer = '';
  private readonly clusters: ReadonlyMap<ConfigResource, string>;

  constructor(resources: readonly ConfigResource[], options: AnalysisContextOptions = {}) {
    this.istioNamespace = options.istioNamespace ?? 'istio-system';
    this.meshConfig = { ...defaultMeshConfig(), ...(options.meshConfig ?? {}) };
    this.meshNetworks = options.meshNetworks;
    this.clusters = options.clusterOf ?? new Map();
    for (const r of resources) {
      const key = kindKey(r.kind, r.group);
      const list = this.byKind.get(key) ?? [];
      list.push(r);
      this.byKind.set(key, list);
      this.byName.set(`${key}/${r.metadata.namespace ?? ''}/${r.metadata.name}`, r);
    }
  }

  /** The root namespace of the mesh (MeshConfig rootNamespace). */
  get rootNamespace(): string {
    const ns = this.meshConfig.rootNamespace;
    return typeof ns === 'string' && ns !== '' ? ns : this.istioNamespace;
  }

  /** Every resource of a kind (Istio's collection), in input order. */
  list(kind: string, group?: string): readonly ConfigResource[] {
    return this.byKind.get(kindKey(kind, group)) ?? [];
  }

  get(kind: string, namespace: string, name: string, group?: string): ConfigResource | undefined {
    return this.byName.get(`${kindKey(kind, group)}/${namespace}/${name}`);
  }

  exists(kind: string, namespace: string, name: string, group?: string): boolean {
    return this.get(kind, namespace, name, group) !== undefined;
  }

  /** The cluster a resource came from in a multi-cluster analysis; '' otherwise. */
  clusterOf(r: ConfigResource): string {
    return this.clusters.get(r) ?? '';
  }

  /** Every resource, in input order by kind. */
  allResources(): ConfigResource[] {
    return [...this.byKind.values()].flat();
  }

  /** Names of every namespace known from Namespace resources or from the namespaces resources live in. */
  knownNamespaces(): Set<string> {
    const out = new Set<string>();
    for (const list of this.byKind.values()) {
      for (const r of list) {
        if (r.kind === 'Namespace' && r.group === '') out.add(r.metadata.name);
        else if (r.metadata.namespace) out.add(r.metadata.namespace);
      }
    }
    return out;
  }

  /** Run `fn` with reports attributed to the named analyzer. */
  withAnalyzer(name: string, fn: () => void): void {
    const previous = this.currentAnalyzer;
    this.currentAnalyzer = name;
    try {
      fn();
    } finally {
      this.currentAnalyzer = previous;
    }
  }

  /**
   * Report a message of a catalog type (Istio's name) against a resource, unless the resource
   * suppresses that code with Istio's `galley.istio.io/analyze-suppress` annotation.
   */
  report(r: ConfigResource, typeName: string, ...args: unknown[]): void {
    const type = messageType(typeName);
    const suppress = r.metadata.annotations?.[SUPPRESS_ANNOTATION];
    if (typeof suppress === 'string' && suppress.split(',').some((c) => c.trim() === '*' || c.trim() === type.code)) return;
    const m = newMessage(type, resourceRef(r), args, this.currentAnalyzer);
    if (r.origin && r.origin.line > 0) {
      m.file = r.origin.file;
      m.line = r.origin.line;
    }
    this.messages.push(m);
  }
}
