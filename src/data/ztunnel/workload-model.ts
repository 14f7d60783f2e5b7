import type { AuthorizationResource, ServiceResource, WorkloadResource } from '../../api/workload/workload-types.ts';

/**
 * ztunnel's view of the workload API: Workloads and Services decoded from `istio.workload.Address`
 * and Authorizations from `istio.security.Authorization`, with addresses as text and the
 * identity spelled out. Built from protobufjs objects (bytes as Buffers, enums as names).
 */
export interface ZWorkload {
  uid: string;
  name: string;
  namespace: string;
  ips: string[];
  hostname: string;
  network: string;
  tunnelProtocol: 'NONE' | 'HBONE' | 'LEGACY_ISTIO_MTLS';
  nativeTunnel: boolean;
  trustDomain: string;
  serviceAccount: string;
  /** spiffe://TRUST_DOMAIN/ns/NS/sa/SA */
  identity: string;
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadType: string;
  workloadName: string;
  clusterId: string;
  healthy: boolean;
  /** namespace/hostname → ports (targetPort 0: the service's). */
  services: Map<string, { servicePort: number; targetPort: number }[]>;
  authorizationPolicies: string[];
  locality: { region?: string; zone?: string; subzone?: string } | undefined;
  waypoint: ZGatewayAddress | undefined;
  applicationTunnel: { protocol: 'NONE' | 'PROXY'; port: number } | undefined;
  capacity: number;
  /** The resource as received (admin /config_dump). */
  raw: WorkloadResource;
}

export interface ZGatewayAddress {
  hostname?: { namespace: string; hostname: string };
  address?: { network: string; ip: string };
  hbonePort: number;
}

export interface ZService {
  key: string;
  name: string;
  namespace: string;
  hostname: string;
  vips: { network: string; ip: string }[];
  ports: { servicePort: number; targetPort: number; appProtocol: string }[];
  subjectAltNames: string[];
  waypoint: ZGatewayAddress | undefined;
  loadBalancing: { routingPreference: string[]; mode: string; healthPolicy: string } | undefined;
  raw: ServiceResource;
}

export interface ZMatch {
  namespaces: ZStringMatch[];
  notNamespaces: ZStringMatch[];
  serviceAccounts: { namespace: string; serviceAccount: string }[];
  notServiceAccounts: { namespace: string; serviceAccount: string }[];
  principals: ZStringMatch[];
  notPrincipals: ZStringMatch[];
  sourceIps: ZCidr[];
  notSourceIps: ZCidr[];
  destinationIps: ZCidr[];
  notDestinationIps: ZCidr[];
  destinationPorts: number[];
  notDestinationPorts: number[];
}

export type ZStringMatch = { exact: string } | { prefix: string } | { suffix: string } | { presence: true };

export interface ZCidr {
  bytes: Buffer;
  length: number;
}

export interface ZAuthorization {
  key: string;
  name: string;
  namespace: string;
  scope: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
  action: 'ALLOW' | 'DENY';
  /** groups (OR) → rules (AND) → matches (OR). */
  groups: ZMatch[][][];
  dryRun: boolean;
  raw: AuthorizationResource;
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = <T = unknown>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

export function ipText(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return '';
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // longest zero run → ::
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

function bytesOf(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  return Buffer.alloc(0);
}

function gateway(v: unknown): ZGatewayAddress | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Obj;
  const h = o.hostname as Obj | undefined;
  const a = o.address as Obj | undefined;
  return {
    ...(h ? { hostname: { namespace: str(h.namespace), hostname: str(h.hostname) } } : {}),
    ...(a ? { address: { network: str(a.network), ip: ipText(bytesOf(a.address)) } } : {}),
    hbonePort: Number(o.hboneMtlsPort ?? 0) || 15008,
  };
}

/** Workload resource (protobufjs object: enums as names, bytes as Buffers) → ZWorkload. */
export function toWorkload(o: Obj): ZWorkload {
  const trustDomain = str(o.trustDomain) || 'cluster.local';
  const namespace = str(o.namespace);
  const serviceAccount = str(o.serviceAccount) || 'default';
  const services = new Map<string, { servicePort: number; targetPort: number }[]>();
  for (const [k, v] of Object.entries((o.services as Record<string, Obj> | undefined) ?? {})) {
    services.set(k, arr<Obj>(v.ports).map((p) => ({ servicePort: Number(p.servicePort ?? 0), targetPort: Number(p.targetPort ?? 0) })));
  }
  const at = o.applicationTunnel as Obj | undefined;
  const loc = o.locality as Obj | undefined;
  const raw = { ...o, addresses: arr(o.addresses).map((a) => bytesOf(a).toString('base64')) } as unknown as WorkloadResource;
  return {
    uid: str(o.uid),
    name: str(o.name),
    namespace,
    ips: arr(o.addresses).map((a) => ipText(bytesOf(a))).filter(Boolean),
    hostname: str(o.hostname),
    network: str(o.network),
    tunnelProtocol: (str(o.tunnelProtocol) || 'NONE') as ZWorkload['tunnelProtocol'],
    nativeTunnel: o.nativeTunnel === true,
    trustDomain,
    serviceAccount,
    identity: `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`,
    node: str(o.node),
    canonicalName: str(o.canonicalName),
    canonicalRevision: str(o.canonicalRevision),
    workloadType: (str(o.workloadType) || 'DEPLOYMENT').toLowerCase(),
    workloadName: str(o.workloadName),
    clusterId: str(o.clusterId),
    healthy: str(o.status) !== 'UNHEALTHY',
    services,
    authorizationPolicies: arr<string>(o.authorizationPolicies),
    locality: loc ? { region: str(loc.region) || undefined, zone: str(loc.zone) || undefined, subzone: str(loc.subzone) || undefined } : undefined,
    waypoint: gateway(o.waypoint),
    applicationTunnel: at ? { protocol: (str(at.protocol) || 'NONE') as 'NONE' | 'PROXY', port: Number(at.port ?? 0) } : undefined,
    capacity: Number((o.capacity as Obj | undefined)?.value ?? 1) || 1,
    raw,
  };
}

export function toService(o: Obj): ZService {
  const namespace = str(o.namespace);
  const hostname = str(o.hostname);
  const lb = o.loadBalancing as Obj | undefined;
  return {
    key: `${namespace}/${hostname}`,
    name: str(o.name),
    namespace,
    hostname,
    vips: arr<Obj>(o.addresses).map((a) => ({ network: str(a.network), ip: ipText(bytesOf(a.address)) })).filter((a) => a.ip),
    ports: arr<Obj>(o.ports).map((p) => ({ servicePort: Number(p.servicePort ?? 0), targetPort: Number(p.targetPort ?? 0), appProtocol: str(p.appProtocol) || 'UNKNOWN' })),
    subjectAltNames: arr<string>(o.subjectAltNames),
    waypoint: gateway(o.waypoint),
    loadBalancing: lb ? { routingPreference: arr<string>(lb.routingPreference), mode: str(lb.mode) || 'UNSPECIFIED_MODE', healthPolicy: str(lb.healthPolicy) || 'ONLY_HEALTHY' } : undefined,
    raw: { ...o, addresses: arr<Obj>(o.addresses).map((a) => ({ ...a, address: bytesOf(a.address).toString('base64') })) } as unknown as ServiceResource,
  };
}

function stringMatch(o: Obj): ZStringMatch | undefined {
  if (typeof o.exact === 'string') return { exact: o.exact };
  if (typeof o.prefix === 'string') return { prefix: o.prefix };
  if (typeof o.suffix === 'string') return { suffix: o.suffix };
  if (o.presence !== undefined) return { presence: true };
  return undefined;
}

function cidrs(v: unknown): ZCidr[] {
  return arr<Obj>(v).map((a) => {
    const bytes = bytesOf(a.address);
    return { bytes, length: Number(a.length ?? bytes.length * 8) };
  });
}

function match(o: Obj): ZMatch {
  const sm = (v: unknown): ZStringMatch[] => arr<Obj>(v).map(stringMatch).filter((x): x is ZStringMatch => x !== undefined);
  const sa = (v: unknown): { namespace: string; serviceAccount: string }[] => arr<Obj>(v).map((s) => ({ namespace: str(s.namespace), serviceAccount: str(s.serviceAccount) }));
  const ports = (v: unknown): number[] => arr(v).map(Number);
  return {
    namespaces: sm(o.namespaces),
    notNamespaces: sm(o.notNamespaces),
    serviceAccounts: sa(o.serviceAccounts),
    notServiceAccounts: sa(o.notServiceAccounts),
    principals: sm(o.principals),
    notPrincipals: sm(o.notPrincipals),
    sourceIps: cidrs(o.sourceIps),
    notSourceIps: cidrs(o.notSourceIps),
    destinationIps: cidrs(o.destinationIps),
    notDestinationIps: cidrs(o.notDestinationIps),
    destinationPorts: ports(o.destinationPorts),
    notDestinationPorts: ports(o.notDestinationPorts),
  };
}

export function toAuthorization(key: string, o: Obj): ZAuthorization {
  return {
    key,
    name: str(o.name),
    namespace: str(o.namespace),
    scope: (str(o.scope) || 'GLOBAL') as ZAuthorization['scope'],
    action: (str(o.action) || 'ALLOW') as ZAuthorization['action'],
    groups: arr<Obj>(o.groups).map((g) => arr<Obj>(g.rules).map((r) => arr<Obj>(r.matches).map(match))),
    dryRun: o.dryRun === true,
    raw: o as unknown as AuthorizationResource,
  };
}
