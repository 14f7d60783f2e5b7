/**
 * The kinds Mizzen understands: group, served versions, scope and the names users type for them
 * (`mizzen get vs`, kubectl-style aliases). Validators and schemas attach to these in
 * control/config; this file carries only facts about the API.
 */
export interface KindInfo {
  kind: string;
  group: string;
  /** Served versions, newest (storage) first. */
  versions: readonly string[];
  plural: string;
  aliases: readonly string[];
  namespaced: boolean;
  /** true for Istio CRDs (validated against Istio's OpenAPI schema). */
  istio: boolean;
  /** A CRD whose bundled OpenAPI schema (and CEL rules) validates it (Istio's kinds and the Gateway API's). */
  crdSchema: boolean;
  /**
   * The name the config store files it under: the kind, except where two groups share a kind name
   * (the Gateway API's `Gateway` is `KubernetesGateway`, as istiod's config store names it).
   */
  storeKind: string;
}

const NETWORKING = ['v1', 'v1beta1', 'v1alpha3'] as const;
const SECURITY = ['v1', 'v1beta1'] as const;

function istioKind(kind: string, group: string, versions: readonly string[], plural: string, aliases: string[]): KindInfo {
  return { kind, group, versions, plural, aliases, namespaced: true, istio: true, crdSchema: true, storeKind: kind };
}

function kubeKind(kind: string, group: string, versions: readonly string[], plural: string, aliases: string[], namespaced = true): KindInfo {
  return { kind, group, versions, plural, aliases, namespaced, istio: false, crdSchema: false, storeKind: kind };
}

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
/** The store kind of the Gateway API's Gateway (istiod's gvk.KubernetesGateway). */
export const KUBERNETES_GATEWAY = 'KubernetesGateway';

/** Gateway API standard channel (v1.4): validated against its CRDs' schemas and CEL rules, as an API server does. */
function gatewayApiKind(kind: string, versions: readonly string[], plural: string, aliases: string[], namespaced = true): KindInfo {
  return { kind, group: GATEWAY_API_GROUP, versions, plural, aliases, namespaced, istio: false, crdSchema: true, storeKind: kind === 'Gateway' ? KUBERNETES_GATEWAY : kind };
}

export const KINDS: readonly KindInfo[] = Object.freeze([
  istioKind('VirtualService', 'networking.istio.io', NETWORKING, 'virtualservices', ['vs']),
  istioKind('DestinationRule', 'networking.istio.io', NETWORKING, 'destinationrules', ['dr']),
  istioKind('Gateway', 'networking.istio.io', NETWORKING, 'gateways', ['gw']),
  istioKind('ServiceEntry', 'networking.istio.io', NETWORKING, 'serviceentries', ['se']),
  istioKind('WorkloadEntry', 'networking.istio.io', NETWORKING, 'workloadentries', ['we']),
  istioKind('WorkloadGroup', 'networking.istio.io', NETWORKING, 'workloadgroups', ['wg']),
  istioKind('Sidecar', 'networking.istio.io', NETWORKING, 'sidecars', []),
  istioKind('PeerAuthentication', 'security.istio.io', SECURITY, 'peerauthentications', ['pa']),
  istioKind('RequestAuthentication', 'security.istio.io', SECURITY, 'requestauthentications', ['ra']),
  istioKind('AuthorizationPolicy', 'security.istio.io', SECURITY, 'authorizationpolicies', ['ap']),
  istioKind('Telemetry', 'telemetry.istio.io', ['v1', 'v1alpha1'], 'telemetries', ['telemetry']),
  kubeKind('Namespace', '', ['v1'], 'namespaces', ['ns'], false),
  kubeKind('Node', '', ['v1'], 'nodes', ['no'], false),
  kubeKind('ServiceAccount', '', ['v1'], 'serviceaccounts', ['sa']),
  kubeKind('Service', '', ['v1'], 'services', ['svc']),
  kubeKind('Endpoints', '', ['v1'], 'endpoints', ['ep']),
  kubeKind('Pod', '', ['v1'], 'pods', ['po']),
  kubeKind('ConfigMap', '', ['v1'], 'configmaps', ['cm']),
  kubeKind('EndpointSlice', 'discovery.k8s.io', ['v1'], 'endpointslices', []),
  kubeKind('Deployment', 'apps', ['v1'], 'deployments', ['deploy']),
  gatewayApiKind('GatewayClass', ['v1', 'v1beta1'], 'gatewayclasses', ['gc'], false),
  gatewayApiKind('Gateway', ['v1', 'v1beta1'], 'gateways', ['gtw']),
  gatewayApiKind('HTTPRoute', ['v1', 'v1beta1'], 'httproutes', []),
  gatewayApiKind('GRPCRoute', ['v1'], 'grpcroutes', []),
  gatewayApiKind('ReferenceGrant', ['v1beta1'], 'referencegrants', ['refgrant']),
]);

/** The store kind of a resource's group and kind (its own kind unless the name is shared). */
export function storeKindOf(group: string, kind: string): string {
  if (group === GATEWAY_API_GROUP && kind === 'Gateway') return KUBERNETES_GATEWAY;
  // a kind Mizzen knows, from another group, is not that kind (found by fuzzing: a
  // `netrking.istio.io/v1 Gateway` reached Istio's gateway generator)
  return KIND_NAMES.has(kind) && !KIND_PAIRS.has(`${group}/${kind}`) ? `${group}/${kind}` : kind;
}

const KIND_NAMES = new Set(KINDS.map((k) => k.kind));
const KIND_PAIRS = new Set(KINDS.map((k) => `${k.group}/${k.kind}`));

export type KindLookup =
  | { known: true; info: KindInfo }
  | { known: false; reason: 'unknown-kind' | 'unserved-version'; served?: readonly string[] };

/** Look up by apiVersion + kind, as they appear in a document. */
export function lookupKind(group: string, version: string, kind: string): KindLookup {
  const info = KINDS.find((k) => k.kind === kind && k.group === group);
  if (!info) return { known: false, reason: 'unknown-kind' };
  if (!info.versions.includes(version)) return { known: false, reason: 'unserved-version', served: info.versions };
  return { known: true, info };
}

/** Resolve what a user typed (`vs`, `virtualservices`, `VirtualService`) to a kind. */
export function kindByName(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === n || k.plural === n || k.aliases.includes(n) || k.plural.replace(/s$/, '') === n);
}

/**
 * False for a resource that bears the name of a kind Mizzen knows but comes from an API group that
 * does not define it (`netrking.istio.io/v1 Gateway`); true otherwise.
 */
export function inOwnGroup(r: { kind: string; group: string }): boolean {
  return !KIND_NAMES.has(r.kind) || KIND_PAIRS.has(`${r.group}/${r.kind}`);
}
