/**
 * Istio's workload API resources in proto3 JSON form (camelCase names; bytes as base64; enums as
 * their names), as discovery generates them and ztunnel decodes them. Field names are those of
 * istio.workload / istio.security (./proto).
 */
export type TunnelProtocol = 'NONE' | 'HBONE' | 'LEGACY_ISTIO_MTLS';
export type WorkloadStatus = 'HEALTHY' | 'UNHEALTHY';
export type WorkloadType = 'DEPLOYMENT' | 'CRONJOB' | 'POD' | 'JOB';
export type AppProtocol = 'UNKNOWN' | 'HTTP11' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS';

export interface NetworkAddress {
  network?: string;
  /** base64 of the 4 or 16 address bytes. */
  address: string;
  length?: number;
}

export interface NamespacedHostname {
  namespace: string;
  hostname: string;
}

export interface GatewayAddress {
  hostname?: NamespacedHostname;
  address?: NetworkAddress;
  hboneMtlsPort?: number;
}

export interface WorkloadPort {
  servicePort: number;
  targetPort?: number;
  appProtocol?: AppProtocol;
}

export interface Locality {
  region?: string;
  zone?: string;
  subzone?: string;
}

export interface ApplicationTunnel {
  protocol?: 'NONE' | 'PROXY';
  port?: number;
}

export interface LoadBalancing {
  routingPreference?: ('UNSPECIFIED_SCOPE' | 'REGION' | 'ZONE' | 'SUBZONE' | 'NODE' | 'CLUSTER' | 'NETWORK')[];
  mode?: 'UNSPECIFIED_MODE' | 'STRICT' | 'FAILOVER' | 'PASSTHROUGH';
  healthPolicy?: 'ONLY_HEALTHY' | 'ALLOW_ALL';
}

export interface WorkloadResource {
  uid: string;
  name?: string;
  namespace?: string;
  /** base64 addresses. */
  addresses?: string[];
  hostname?: string;
  network?: string;
  tunnelProtocol?: TunnelProtocol;
  trustDomain?: string;
  serviceAccount?: string;
  waypoint?: GatewayAddress;
  networkGateway?: GatewayAddress;
  node?: string;
  canonicalName?: string;
  canonicalRevision?: string;
  workloadType?: WorkloadType;
  workloadName?: string;
  nativeTunnel?: boolean;
  applicationTunnel?: ApplicationTunnel;
  services?: Record<string, { ports?: WorkloadPort[] }>;
  authorizationPolicies?: string[];
  status?: WorkloadStatus;
  clusterId?: string;
  locality?: Locality;
  networkMode?: 'STANDARD' | 'HOST_NETWORK';
  capacity?: number;
}

export interface ServiceResource {
  name: string;
  namespace: string;
  hostname: string;
  addresses?: NetworkAddress[];
  ports?: WorkloadPort[];
  subjectAltNames?: string[];
  waypoint?: GatewayAddress;
  loadBalancing?: LoadBalancing;
  ipFamilies?: 'AUTOMATIC' | 'IPV4_ONLY' | 'IPV6_ONLY' | 'DUAL';
  canonical?: boolean;
  ingressUseWaypoint?: boolean;
}

/** `istio.workload.Address`: exactly one of the two. */
export interface AddressResource {
  workload?: WorkloadResource;
  service?: ServiceResource;
}

export interface StringMatch {
  exact?: string;
  prefix?: string;
  suffix?: string;
  presence?: Record<string, never>;
}

export interface IpMatch {
  /** base64 address bytes. */
  address: string;
  length: number;
}

export interface ServiceAccountMatch {
  namespace: string;
  serviceAccount: string;
}

export interface AuthorizationMatch {
  namespaces?: StringMatch[];
  notNamespaces?: StringMatch[];
  serviceAccounts?: ServiceAccountMatch[];
  notServiceAccounts?: ServiceAccountMatch[];
  principals?: StringMatch[];
  notPrincipals?: StringMatch[];
  sourceIps?: IpMatch[];
  notSourceIps?: IpMatch[];
  destinationIps?: IpMatch[];
  notDestinationIps?: IpMatch[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
}

export interface AuthorizationRules {
  matches?: AuthorizationMatch[];
}

export interface AuthorizationGroup {
  rules?: AuthorizationRules[];
}

export type AuthorizationScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';

/** `istio.security.Authorization`. Resource name: namespace/name. */
export interface AuthorizationResource {
  name: string;
  namespace: string;
  scope?: AuthorizationScope;
  action?: 'ALLOW' | 'DENY';
  groups?: AuthorizationGroup[];
  dryRun?: boolean;
}

/** Istio's name of a converted PeerAuthentication (`converted_peer_authentication_<name>`). */
export const CONVERTED_PEER_AUTHENTICATION_PREFIX = 'converted_peer_authentication_';
/** Istio's mesh-wide STRICT policy (root namespace), referenced by STRICT workloads. */
export const STATIC_STRICT_POLICY_NAME = 'istio_converted_static_strict';

/** Istio's pod annotation written once ztunnel took the pod (`enabled`). */
export const AMBIENT_REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
/** A workload that terminates HBONE itself (waypoints, HBONE-capable sidecars). */
export const TUNNEL_LABEL = 'networking.istio.io/tunnel';

/** Bytes of an IPv4/IPv6 address as base64 (the proto3 JSON of a `bytes` field). */
export function ipToBase64(ip: string): string {
  return ipToBytes(ip).toString('base64');
}

export function ipToBytes(ip: string): Buffer {
  if (!ip.includes(':')) {
    const parts = ip.split('.').map(Number);
    return Buffer.from(parts);
  }
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

/** Text form of 4 or 16 address bytes. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
