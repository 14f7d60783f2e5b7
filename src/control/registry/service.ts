/**
 * The service registry's model (like Istio's model.Service / IstioEndpoint / WorkloadInstance).
 * Built from Kubernetes Service/Endpoints/EndpointSlice/Pod and from ServiceEntry/WorkloadEntry/
 * WorkloadGroup by control/registry/; consumed by push context, generators and analyzers.
 */
export type Protocol =
  | 'HTTP'
  | 'HTTP2'
  | 'HTTPS'
  | 'GRPC'
  | 'GRPC-Web'
  | 'TLS'
  | 'TCP'
  | 'MONGO'
  | 'REDIS'
  | 'MYSQL'
  | 'UDP'
  | 'UNSUPPORTED';

export interface ServicePort {
  name: string;
  port: number;
  protocol: Protocol;
  /** Workload port (Kubernetes targetPort, ServiceEntry targetPort); a name until resolved. */
  targetPort?: number | string;
}

export type Resolution = 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE' | 'PASSTHROUGH';

export interface Service {
  /** FQDN: `name.ns.svc.cluster.local` for Kubernetes, the host for a ServiceEntry. */
  hostname: string;
  namespace: string;
  /** Kubernetes Service name (for Kubernetes services). */
  name?: string;
  ports: readonly ServicePort[];
  /** Virtual IPs (ClusterIP, ServiceEntry addresses); empty for headless/unaddressed. */
  addresses: readonly string[];
  resolution: Resolution;
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** Namespaces it is visible in: '*' (all), '.' resolved to its own namespace, or names. */
  exportTo: readonly string[];
  labels: Readonly<Record<string, string>>;
  /** Pod/WorkloadEntry selector (Kubernetes selector or ServiceEntry workloadSelector). */
  selector?: Readonly<Record<string, string>>;
  registry: 'Kubernetes' | 'ServiceEntry';
  /** ServiceEntry `subjectAltNames`: identities its endpoints' certificates must carry. */
  subjectAltNames?: readonly string[];
  /** Key of the resource it came from (group/Kind/ns/name). */
  source: string;
}

export interface Locality {
  region?: string;
  zone?: string;
  subzone?: string;
}

export interface Endpoint {
  /** Service hostname and port this endpoint serves. */
  hostname: string;
  namespace: string;
  servicePort: number;
  servicePortName: string;
  address: string;
  port: number;
  labels: Readonly<Record<string, string>>;
  serviceAccount?: string;
  locality?: Locality;
  weight?: number;
  healthy: boolean;
  /** `istio` when the workload has a sidecar (auto mTLS), `disabled` otherwise. */
  tlsMode: 'istio' | 'disabled';
  /** Workload (Pod/WorkloadEntry) name, for telemetry. */
  workloadName?: string;
  network?: string;
}

export interface Workload {
  kind: 'Pod' | 'WorkloadEntry';
  name: string;
  namespace: string;
  address: string;
  labels: Readonly<Record<string, string>>;
  serviceAccount?: string;
  locality?: Locality;
  /** Container ports by name (for named targetPorts). */
  ports: Readonly<Record<string, number>>;
  /** Has a sidecar (label security.istio.io/tlsMode=istio or injected). */
  tlsMode: 'istio' | 'disabled';
  /** Ready (Pod Ready condition, WorkloadEntry Healthy condition); undefined means healthy. */
  healthy?: boolean;
  network?: string;
  /** Load-balancing weight (WorkloadEntry.weight). */
  weight?: number;
  /** Key of the resource it came from (group/Kind/ns/name). */
  source?: string;
}

/** An immutable view of the registry at one moment. */
export interface RegistrySnapshot {
  readonly services: readonly Service[];
  readonly workloads: readonly Workload[];
  /** Services with this hostname (several namespaces may declare the same ServiceEntry host). */
  servicesByHost(hostname: string): readonly Service[];
  /** Endpoints of a service port, in stable order. */
  endpoints(hostname: string, port: number, namespace?: string): readonly Endpoint[];
}
