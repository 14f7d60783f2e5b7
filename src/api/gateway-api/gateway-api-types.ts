/**
 * The Gateway API (gateway.networking.k8s.io, standard channel) objects Mizzen reads: GatewayClass,
 * Gateway, HTTPRoute, GRPCRoute, ReferenceGrant. Field names are the API's; only the fields the
 * translation reads are typed (validation uses the CRDs' schemas).
 */
export interface GatewayClassSpec {
  controllerName?: string;
  description?: string;
}

export interface AllowedRoutes {
  namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } };
  kinds?: { group?: string; kind: string }[];
}

export interface GatewayListener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: { mode?: 'Terminate' | 'Passthrough'; certificateRefs?: { group?: string; kind?: string; name: string; namespace?: string }[]; options?: Record<string, string> };
  allowedRoutes?: AllowedRoutes;
}

export interface GatewaySpec {
  gatewayClassName: string;
  listeners?: GatewayListener[];
  addresses?: { type?: string; value: string }[];
  infrastructure?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface GatewayStatus {
  addresses?: { type?: string; value: string }[];
  conditions?: Condition[];
  listeners?: { name: string; attachedRoutes?: number; conditions?: Condition[]; supportedKinds?: { group?: string; kind: string }[] }[];
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPHeaderMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: HTTPHeaderMatch[];
  queryParams?: HTTPHeaderMatch[];
  method?: string;
}

export interface HeaderModifier {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface PathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPRouteFilter {
  type: string;
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestMirror?: { backendRef: BackendRef; percent?: number; fraction?: { numerator: number; denominator?: number } };
  requestRedirect?: { scheme?: string; hostname?: string; path?: PathModifier; port?: number; statusCode?: number };
  urlRewrite?: { hostname?: string; path?: PathModifier };
  extensionRef?: { group: string; kind: string; name: string };
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: BackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

export interface GRPCMethodMatch {
  type?: 'Exact' | 'RegularExpression';
  service?: string;
  method?: string;
}

export interface GRPCRouteRule {
  name?: string;
  matches?: { method?: GRPCMethodMatch; headers?: HTTPHeaderMatch[] }[];
  filters?: HTTPRouteFilter[];
  backendRefs?: BackendRef[];
}

export interface GRPCRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: GRPCRouteRule[];
}

export interface ReferenceGrantSpec {
  from?: { group: string; kind: string; namespace: string }[];
  to?: { group: string; kind: string; name?: string }[];
}

/** GatewayClasses istiod provides without an object (its default classes). */
export const ISTIO_GATEWAY_CLASS = 'istio';
export const ISTIO_WAYPOINT_CLASS = 'istio-waypoint';
export const ISTIO_REMOTE_CLASS = 'istio-remote';
export const ISTIO_GATEWAY_CONTROLLER = 'istio.io/gateway-controller';
export const ISTIO_MESH_CONTROLLER = 'istio.io/mesh-controller';
export const ISTIO_UNMANAGED_CONTROLLER = 'istio.io/unmanaged-gateway';

/** The label istiod puts on the pods of a Gateway it deploys (and selects them by). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
export const GATEWAY_CLASS_NAME_LABEL = 'gateway.networking.k8s.io/gateway-class-name';
