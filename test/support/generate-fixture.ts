/**
 * Test fixture for generation: a config store filled from YAML, a registry built from plain
 * service/endpoint records, proxies as discovery would parse them, and the resources each
 * generator produces for a proxy (ready for the simulator).
 */
import { ConfigStore } from '../../src/control/config/config-store.ts';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import { GeneratorRegistry } from '../../src/control/generate/generator-registry.ts';
import { PushContext, type PushMeshConfig } from '../../src/control/push/push-context.ts';
import type { Endpoint, Protocol, RegistrySnapshot, Service, Workload } from '../../src/control/registry/service.ts';
import type { ProxyInfo, ProxyType } from '../../src/control/xds/proxy-info.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { XdsSimulator, type ProxyResources } from './xds-simulator.ts';

export interface ServiceSpec {
  name: string;
  namespace?: string;
  /** Default `NAME.NS.svc.cluster.local` (Kubernetes). */
  hostname?: string;
  vip?: string;
  ports: { port: number; protocol?: Protocol; name?: string }[];
  resolution?: Service['resolution'];
  location?: Service['location'];
  exportTo?: string[];
  registry?: Service['registry'];
  subjectAltNames?: string[];
}

export interface EndpointSpec {
  service: string;
  namespace?: string;
  address: string;
  /** Workload port per service port (default: same as the service port). */
  targetPort?: number;
  labels?: Record<string, string>;
  serviceAccount?: string;
  locality?: Endpoint['locality'];
  weight?: number;
  healthy?: boolean;
  tlsMode?: 'istio' | 'disabled';
  workloadName?: string;
  network?: string;
}

/** RegistrySnapshot over fixed records (the registry builder is tested on its own). */
export function staticRegistry(serviceSpecs: readonly ServiceSpec[], endpointSpecs: readonly EndpointSpec[]): RegistrySnapshot {
  const services: Service[] = serviceSpecs.map((s) => {
    const namespace = s.namespace ?? 'default';
    return {
      hostname: s.hostname ?? `${s.name}.${namespace}.svc.cluster.local`,
      namespace,
      name: s.name,
      ports: s.ports.map((p) => ({ name: p.name ?? `${(p.protocol ?? 'HTTP').toLowerCase()}-${p.port}`, port: p.port, protocol: p.protocol ?? 'HTTP' })),
      addresses: s.vip ? [s.vip] : [],
      resolution: s.resolution ?? 'STATIC',
      location: s.location ?? 'MESH_INTERNAL',
      exportTo: s.exportTo ?? ['*'],
      labels: {},
      registry: s.registry ?? 'Kubernetes',
      source: `/Service/${namespace}/${s.name}`,
      ...(s.subjectAltNames ? { subjectAltNames: s.subjectAltNames } : {}),
    };
  });
  const endpoints: Endpoint[] = [];
  for (const e of endpointSpecs) {
    const ns = e.namespace ?? 'default';
    const svc = services.find((s) => s.name === e.service && s.namespace === ns);
    if (!svc) throw new Error(`fixture: endpoint for unknown service ${ns}/${e.service}`);
    for (const p of svc.ports) {
      endpoints.push({
        hostname: svc.hostname,
        namespace: ns,
        servicePort: p.port,
        servicePortName: p.name,
        address: e.address,
        port: e.targetPort ?? p.port,
        labels: e.labels ?? {},
        serviceAccount: e.serviceAccount,
        locality: e.locality,
        weight: e.weight,
        healthy: e.healthy ?? true,
        tlsMode: e.tlsMode ?? 'istio',
        workloadName: e.workloadName,
        ...(e.network ? { network: e.network } : {}),
      });
    }
  }
  const workloads: Workload[] = [];
  const byHost = new Map<string, Service[]>();
  for (const s of services) byHost.set(s.hostname, [...(byHost.get(s.hostname) ?? []), s]);
  const byPort = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    const k = `${e.hostname}|${e.servicePort}`;
    byPort.set(k, [...(byPort.get(k) ?? []), e]);
  }
  return {
    services,
    workloads,
    servicesByHost: (h) => byHost.get(h) ?? [],
    endpoints: (h, port, ns) => (byPort.get(`${h}|${port}`) ?? []).filter((e) => ns === undefined || e.namespace === ns),
  };
}

export function configFromYaml(yaml: string): ConfigStore {
  const parsed = parseDocuments(yaml, 'test.yaml');
  if (parsed.problems.length > 0) throw new Error(`fixture YAML: ${parsed.problems.map((p) => p.message).join('; ')}`);
  // Creation order = document order, as Istio orders configs by creationTimestamp.
  parsed.resources.forEach((r, i) => {
    r.metadata.creationTimestamp ??= new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString();
  });
  const store = new ConfigStore();
  store.apply('test', parsed.resources);
  return store;
}

export function pushContext(yaml: string, services: readonly ServiceSpec[], endpoints: readonly EndpointSpec[] = [], mesh: Partial<PushMeshConfig> = {}): PushContext {
  return new PushContext({
    config: configFromYaml(yaml),
    registry: staticRegistry(services, endpoints),
    mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local', ...mesh },
  });
}

export function proxy(opts: { type?: ProxyType; ip?: string; namespace?: string; labels?: Record<string, string>; serviceAccount?: string; grpc?: boolean; pod?: string }): ProxyInfo {
  const type = opts.type ?? 'sidecar';
  const ns = opts.namespace ?? 'default';
  const ip = opts.ip ?? '10.244.0.100';
  const pod = opts.pod ?? 'client-0';
  return {
    id: `${type}~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`,
    type,
    ipAddresses: [ip],
    podName: pod,
    namespace: ns,
    dnsDomain: `${ns}.svc.cluster.local`,
    labels: opts.labels ?? {},
    serviceAccount: opts.serviceAccount,
    clusterId: 'Kubernetes',
    metadata: opts.grpc ? { GENERATOR: 'grpc' } : {},
    version: '',
    userAgent: opts.grpc ? 'gRPC Node Pure JS' : 'envoy',
    workloadName: undefined,
    ...(opts.grpc ? { generator: 'grpc' as const } : {}),
  };
}

/** Every resource the generators give a proxy (wildcard subscriptions, or the names a gRPC client would ask for). */
export function generateAll(p: ProxyInfo, push: PushContext, grpcTargets?: readonly string[]): ProxyResources {
  const reg = new GeneratorRegistry();
  const gen = (typeUrl: string, names?: readonly string[]) => reg.get(typeUrl, p)!.generate(p, push, names ? { names } : {});
  const listeners = gen(TYPE_URL.listener, grpcTargets);
  const routes = gen(TYPE_URL.route, grpcTargets);
  const clusters = gen(TYPE_URL.cluster);
  const endpoints = gen(TYPE_URL.endpoint);
  return { listeners, routes, clusters, endpoints };
}

export function simulator(p: ProxyInfo, push: PushContext, grpcTargets?: readonly string[]): XdsSimulator {
  return new XdsSimulator(generateAll(p, push, grpcTargets));
}
