import type { ConfigResource } from '../api/config-resource.ts';
import type { DeploymentSpec } from '../api/kube/deployment.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import { deploymentReplicas, podTemplateHash } from './deployment-pods.ts';
import type { PodInstance, PodStatusView } from './pod-instance.ts';
import { serviceBackends, serviceStatusViews, type EndpointPod, type ServiceStatusView } from './service-endpoints.ts';

export interface DeploymentStatusView {
  name: string;
  namespace: string;
  replicas: number;
  ready: number;
  upToDate: number;
}

/**
 * Read-only views of a mesh's running pods against its desired objects (what `get`, `status`
 * and port forwarding show). Reads the live pod map; owns nothing.
 */
export class MeshStatusViews {
  private readonly pods: ReadonlyMap<string, PodInstance>;
  private readonly objects: ClusterObjects;

  constructor(pods: ReadonlyMap<string, PodInstance>, objects: ClusterObjects) {
    this.pods = pods;
    this.objects = objects;
  }

  /** Every pod as a Service endpoint candidate (labels, IP, readiness, named container ports). */
  endpointPods(): EndpointPod[] {
    return [...this.pods.values()].map((p) => {
      const named: Record<string, number> = {};
      for (const c of p.options.spec.containers ?? []) for (const port of c.ports ?? []) if (port.name) named[port.name] = port.containerPort;
      return { namespace: p.namespace, labels: p.options.labels, ip: p.options.ip, ready: p.isReady(), namedPorts: named };
    });
  }

  /** Every desired object (Kubernetes and Istio), as the mesh holds it. */
  configObjects(): ConfigResource[] {
    return this.objects.all();
  }

  podViews(namespace?: string): PodStatusView[] {
    return [...this.pods.values()]
      .filter((p) => namespace === undefined || p.namespace === namespace)
      .map((p) => p.status())
      .sort((a, b) => (a.namespace + '/' + a.name).localeCompare(b.namespace + '/' + b.name));
  }

  /** A pod by name, or the first pod of `deploy/NAME` (ready pods first). */
  findPod(namespace: string, ref: string): PodInstance | undefined {
    const m = /^(?:deploy|deployment|deployments)(?:\.apps)?\/(.+)$/.exec(ref);
    if (!m) return this.pods.get(`${namespace}/${ref.replace(/^pods?\//, '')}`);
    const candidates = [...this.pods.values()].filter((p) => p.options.owner === `${namespace}/${m[1]}`);
    return candidates.find((p) => p.isReady()) ?? candidates[0];
  }

  /** Ready pods backing a Service port, with the port to dial on each. */
  serviceTargets(namespace: string, service: string, port: number): { ip: string; port: number }[] {
    const s = this.objects.serviceViews().find((v) => v.namespace === namespace && v.name === service);
    const sp = s?.spec.ports?.find((p) => p.port === port);
    if (!s || !sp) return [];
    return serviceBackends(s, sp, this.endpointPods()).map((b) => ({ ip: b.address, port: b.port }));
  }

  serviceStatusViews(namespace?: string): ServiceStatusView[] {
    const pods = this.endpointPods();
    return serviceStatusViews(this.objects.serviceViews().filter((s) => namespace === undefined || s.namespace === namespace), pods);
  }

  deploymentViews(namespace?: string): DeploymentStatusView[] {
    return this.objects.list('Deployment')
      .filter((d) => namespace === undefined || d.metadata.namespace === namespace)
      .map((d) => {
        const owner = `${d.metadata.namespace}/${d.metadata.name}`;
        const hash = podTemplateHash(d.spec as DeploymentSpec);
        const pods = [...this.pods.values()].filter((p) => p.options.owner === owner);
        return {
          name: d.metadata.name,
          namespace: d.metadata.namespace ?? 'default',
          replicas: deploymentReplicas(d),
          ready: pods.filter((p) => p.isReady()).length,
          upToDate: pods.filter((p) => p.options.templateHash === hash).length,
        };
      });
  }
}
