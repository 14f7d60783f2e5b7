import type { ConfigResource } from '../../api/config-resource.ts';
import type { EndpointSlicePayload, SlicePort } from '../../api/kube/endpoint-slice.ts';
import type { EndpointAddress, EndpointPort, EndpointsPayload, ObjectReference } from '../../api/kube/endpoints.ts';
import type { ServiceSpec } from '../../api/kube/service.ts';
import type { Endpoint, Service, ServicePort, Workload } from './service.ts';
import type { WorkloadIndex } from './workload-index.ts';

export interface KubeEndpointInputs {
  /** EndpointSlices labelled with this service's name, in its namespace. */
  slices: readonly ConfigResource[];
  /** The Endpoints object of the same name, if any. */
  endpoints: ConfigResource | undefined;
  /** The mesh's workloads, indexed (only Pods are used here). */
  pods: WorkloadIndex;
  /** Workloads (Pods and WorkloadEntries) the selector matches, when the caller selected them already. */
  selected?: readonly Workload[];
}

/** Does this service take its endpoints from selector-matched pods (no slices, Endpoints)? */
export function usesPodSelector(serviceResource: ConfigResource, inputs: Pick<KubeEndpointInputs, 'slices' | 'endpoints'>): boolean {
  return (serviceResource.spec as ServiceSpec).type !== 'ExternalName' && inputs.slices.length === 0 && !inputs.endpoints;
}

/** Endpoint from an address, enriched by the pod behind it when known. */
function endpointFor(service: Service, sp: ServicePort, address: string, port: number, healthy: boolean, pod: Workload | undefined, zone?: string): Endpoint {
  const e: Endpoint = {
    hostname: service.hostname,
    namespace: service.namespace,
    servicePort: sp.port,
    servicePortName: sp.name,
    address,
    port,
    labels: pod ? pod.labels : {},
    healthy,
    tlsMode: pod ? pod.tlsMode : 'disabled',
  };
  if (pod) {
    e.workloadName = pod.name;
    if (pod.serviceAccount) e.serviceAccount = pod.serviceAccount;
    if (pod.locality) e.locality = pod.locality;
    if (pod.network) e.network = pod.network;
  } else if (zone) {
    e.locality = { zone };
  }
  return e;
}

function podOf(service: Service, ref: ObjectReference | undefined, ip: string, pods: WorkloadIndex): Workload | undefined {
  if (ref?.kind === 'Pod' && ref.name) return pods.pod(ref.namespace ?? service.namespace, ref.name);
  return pods.at(service.namespace, ip);
}

/** The slice/Endpoints port serving a service port: same name, or the only port when unnamed. */
function matchPort<P extends { name?: string; port?: number }>(ports: readonly P[], sp: ServicePort, servicePortCount: number): P | undefined {
  const named = ports.find((p) => (p.name ?? '') === sp.name);
  if (named) return named;
  return servicePortCount === 1 && ports.length === 1 ? ports[0] : undefined;
}

function fromSlices(service: Service, sp: ServicePort, inputs: KubeEndpointInputs, publishNotReady: boolean): Endpoint[] {
  const out: Endpoint[] = [];
  for (const slice of inputs.slices) {
    const payload = slice.spec as EndpointSlicePayload;
    const port = matchPort<SlicePort>(payload.ports ?? [], sp, service.ports.length);
    if (!port || port.port === undefined) continue;
    for (const ep of payload.endpoints ?? []) {
      const ready = publishNotReady || ep.conditions?.ready !== false;
      for (const address of ep.addresses ?? []) {
        out.push(endpointFor(service, sp, address, port.port, ready, podOf(service, ep.targetRef, address, inputs.pods), ep.zone));
      }
    }
  }
  return out;
}

function fromEndpoints(service: Service, sp: ServicePort, endpoints: ConfigResource, pods: WorkloadIndex, publishNotReady: boolean): Endpoint[] {
  const out: Endpoint[] = [];
  for (const subset of (endpoints.spec as EndpointsPayload).subsets ?? []) {
    const port = matchPort<EndpointPort>(subset.ports ?? [], sp, service.ports.length);
    if (!port) continue;
    const add = (a: EndpointAddress, ready: boolean): void => void out.push(endpointFor(service, sp, a.ip, port.port, ready, podOf(service, a.targetRef, a.ip, pods)));
    for (const a of subset.addresses ?? []) add(a, true);
    for (const a of subset.notReadyAddresses ?? []) add(a, publishNotReady);
  }
  return out;
}

/** Workload port for a service port: numeric targetPort, or the pod's container port of that name. */
function targetPortOn(pod: Workload, sp: ServicePort): number | undefined {
  const t = sp.targetPort ?? sp.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  return pod.ports[t];
}

function fromPods(service: Service, sp: ServicePort, selected: readonly Workload[], publishNotReady: boolean): Endpoint[] {
  const out: Endpoint[] = [];
  for (const pod of selected) {
    const port = targetPortOn(pod, sp);
    if (port === undefined) continue;
    out.push(endpointFor(service, sp, pod.address, port, publishNotReady || pod.healthy !== false, pod));
  }
  return out;
}

/**
 * Endpoints of a Kubernetes service, per service port, as Kubernetes would publish them:
 * EndpointSlices when there are any, else the Endpoints object, else (what `mizzen up` relies
 * on, since it writes no Endpoints) the pods its selector matches, with named targetPorts
 * resolved through the pods' container ports. ExternalName services get one DNS endpoint per port.
 */
export function kubeServiceEndpoints(service: Service, serviceResource: ConfigResource, inputs: KubeEndpointInputs): Endpoint[] {
  const spec = serviceResource.spec as ServiceSpec;
  const publishNotReady = spec.publishNotReadyAddresses === true;
  const out: Endpoint[] = [];
  const selected = inputs.selected ?? inputs.pods.select(service.namespace, service.selector);
  const pods = usesPodSelector(serviceResource, inputs) ? selected.filter((w) => w.kind === 'Pod') : [];
  // WorkloadEntries matching the selector are endpoints too (VMs behind a Kubernetes service).
  const entries = spec.type === 'ExternalName' ? [] : selected.filter((w) => w.kind === 'WorkloadEntry');
  for (const sp of service.ports) {
    if (spec.type === 'ExternalName') {
      if (spec.externalName) out.push(endpointFor(service, sp, spec.externalName, sp.port, true, undefined));
    } else if (inputs.slices.length > 0) out.push(...fromSlices(service, sp, inputs, publishNotReady));
    else if (inputs.endpoints) out.push(...fromEndpoints(service, sp, inputs.endpoints, inputs.pods, publishNotReady));
    else out.push(...fromPods(service, sp, pods, publishNotReady));
    out.push(...fromPods(service, sp, entries, publishNotReady));
  }
  return out;
}
