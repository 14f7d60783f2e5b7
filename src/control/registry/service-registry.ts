import type { Endpoint, RegistrySnapshot, Service, ServicePort, Workload } from './service.ts';

export interface ServiceWithEndpoints {
  service: Service;
  /** Endpoints per service port, each list sorted (see indexEndpoints). */
  byPort: ReadonlyMap<number, readonly Endpoint[]>;
}

/** A resource the registry could not use (it is left out; the rest of the registry stands). */
export interface RegistryProblem {
  resource: string;
  message: string;
}

/** Group a service's endpoints by service port, each list in stable (address, port) order. */
export function indexEndpoints(service: Service, endpoints: readonly Endpoint[]): Map<number, Endpoint[]> {
  const out = new Map<number, Endpoint[]>();
  for (const sp of service.ports) out.set(sp.port, []);
  for (const e of endpoints) out.get(e.servicePort)?.push(e);
  for (const list of out.values()) list.sort(compareEndpoints);
  return out;
}

function serviceId(s: Pick<Service, 'registry' | 'namespace' | 'hostname'>): string {
  return `${s.registry}/${s.namespace}/${s.hostname}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return (a.workloadName ?? '') < (b.workloadName ?? '') ? -1 : (a.workloadName ?? '') > (b.workloadName ?? '') ? 1 : 0;
}

/**
 * An immutable registry snapshot with lookups by hostname and by (hostname, port). Services are
 * ordered by hostname then namespace (Kubernetes before ServiceEntry); endpoints by address.
 */
export class ServiceRegistry implements RegistrySnapshot {
  readonly services: readonly Service[];
  readonly workloads: readonly Workload[];
  readonly problems: readonly RegistryProblem[];
  private readonly byHost = new Map<string, Service[]>();
  private readonly endpointsById = new Map<string, ReadonlyMap<number, readonly Endpoint[]>>();
  private byAddress: Map<string, Workload[]> | undefined;

  constructor(entries: readonly ServiceWithEndpoints[], workloads: readonly Workload[], problems: readonly RegistryProblem[] = []) {
    this.problems = problems;
    const sorted = [...entries].sort(
      (a, b) => cmp(a.service.hostname, b.service.hostname) || cmp(a.service.namespace, b.service.namespace) || cmp(a.service.registry, b.service.registry),
    );
    this.services = sorted.map((e) => e.service);
    this.workloads = [...workloads].sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name));
    for (const { service, byPort } of sorted) {
      const list = this.byHost.get(service.hostname);
      if (list) list.push(service);
      else this.byHost.set(service.hostname, [service]);
      const id = serviceId(service);
      const existing = this.endpointsById.get(id);
      if (!existing) {
        this.endpointsById.set(id, byPort);
        continue;
      }
      // Two resources declaring the same host in one namespace: merge their endpoints.
      const merged = new Map(existing);
      for (const [port, eps] of byPort) merged.set(port, [...(merged.get(port) ?? []), ...eps].sort(compareEndpoints));
      this.endpointsById.set(id, merged);
    }
  }

  /** A service's endpoints per service port (the object the builder produced: compare by identity first). */
  endpointsByPort(service: Service): ReadonlyMap<number, readonly Endpoint[]> | undefined {
    return this.endpointsById.get(serviceId(service));
  }

  servicesByHost(hostname: string): readonly Service[] {
    return this.byHost.get(hostname) ?? [];
  }

  /** The service for a hostname, in a namespace when given (else the first by namespace). */
  service(hostname: string, namespace?: string): Service | undefined {
    const list = this.servicesByHost(hostname);
    return namespace === undefined ? list[0] : list.find((s) => s.namespace === namespace);
  }

  /** A service port by (hostname, port), with its service. */
  servicePort(hostname: string, port: number, namespace?: string): { service: Service; port: ServicePort } | undefined {
    for (const s of this.servicesByHost(hostname)) {
      if (namespace !== undefined && s.namespace !== namespace) continue;
      const sp = s.ports.find((p) => p.port === port);
      if (sp) return { service: s, port: sp };
    }
    return undefined;
  }

  /** Endpoints of a service port; across namespaces declaring the host unless one is given. */
  endpoints(hostname: string, port: number, namespace?: string): readonly Endpoint[] {
    const out: Endpoint[] = [];
    for (const s of this.servicesByHost(hostname)) {
      if (namespace !== undefined && s.namespace !== namespace) continue;
      out.push(...(this.endpointsById.get(serviceId(s))?.get(port) ?? []));
    }
    return out;
  }

  /** Every endpoint of a service, all ports, in port then address order. */
  endpointsOf(service: Service): readonly Endpoint[] {
    const byPort = this.endpointsById.get(serviceId(service));
    if (!byPort) return [];
    return [...byPort.keys()].sort((a, b) => a - b).flatMap((p) => byPort.get(p) ?? []);
  }

  /** Workloads (Pods, WorkloadEntries) at an address. */
  workloadsAt(address: string): readonly Workload[] {
    if (!this.byAddress) {
      this.byAddress = new Map();
      for (const w of this.workloads) {
        const list = this.byAddress.get(w.address);
        if (list) list.push(w);
        else this.byAddress.set(w.address, [w]);
      }
    }
    return this.byAddress.get(address) ?? [];
  }
}
