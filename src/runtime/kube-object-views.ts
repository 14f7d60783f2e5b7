import { createHash } from 'node:crypto';
import type { ConfigResource } from '../api/config-resource.ts';
import type { DeploymentSpec } from '../api/kube/deployment.ts';
import { overlayContainer } from '../api/kube/container-overlay.ts';
import type { ServiceSpec } from '../api/kube/service.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import { deploymentReplicas, podTemplateHash } from './deployment-pods.ts';
import type { PodInstance, PodStatusView, ContainerStatusView } from './pod-instance.ts';
import { podResource } from './pod-resource.ts';

type Obj = Record<string, unknown>;

/** A Service port forwarded to 127.0.0.1 (`--expose`, the ingress gateway's load balancer). */
export interface Exposure {
  namespace: string;
  service: string;
  port: number;
  localPort: number;
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** A container's state as the kubelet reports it (what kubectl's STATUS and RESTARTS columns read). */
function containerStatus(c: ContainerStatusView, image: string): Obj {
  const s = c.status;
  const t = s.lastTermination;
  // The termination message: what the run said when it stopped (its first error line).
  const terminated = t ? { exitCode: t.exitCode, reason: t.reason, message: t.cause, startedAt: iso(t.startedAt), finishedAt: iso(t.finishedAt) } : undefined;
  let state: Obj;
  switch (s.phase) {
    case 'Running':
      state = { running: { startedAt: iso(s.startedAt) } };
      break;
    case 'CrashLoopBackOff':
      state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting failed container ${c.name}` } };
      break;
    case 'Error':
    case 'Completed':
    case 'Terminated':
      state = { terminated: terminated ?? { exitCode: s.lastExitCode ?? 0, reason: s.phase === 'Error' ? 'Error' : 'Completed' } };
      break;
    default:
      state = { waiting: { reason: 'ContainerCreating' } };
  }
  return {
    name: c.name,
    image,
    ready: c.ready,
    started: s.phase === 'Running',
    restartCount: s.restarts,
    state,
    lastState: s.restarts > 0 && terminated ? { terminated } : {},
    ...(s.pid !== undefined ? { containerID: `pid://${s.pid}` } : {}),
  };
}

/**
 * The objects of a local mesh as the Kubernetes API would return them (what `mizzen get` prints
 * and `-o yaml|json|jsonpath` shows): stored objects with their metadata, plus the status the
 * kubelet and controllers would write (Pods from the running pod instances, Deployments' replica
 * counts, Services' load-balancer addresses for forwarded ports, Namespaces Active).
 */
export class KubeObjectViews {
  private readonly pods: ReadonlyMap<string, PodInstance>;
  private readonly objects: ClusterObjects;
  private readonly exposures: () => readonly Exposure[];
  /** Annotations controllers write on a running pod (istio-cni's `ambient.istio.io/redirection`). */
  private readonly podAnnotations: (p: PodInstance) => Readonly<Record<string, string>>;

  constructor(pods: ReadonlyMap<string, PodInstance>, objects: ClusterObjects, exposures: () => readonly Exposure[], podAnnotations: (p: PodInstance) => Readonly<Record<string, string>> = () => ({})) {
    this.pods = pods;
    this.objects = objects;
    this.exposures = exposures;
    this.podAnnotations = podAnnotations;
  }

  /** Objects of one kind (all namespaces when `namespace` is undefined), sorted by namespace and name. */
  list(kind: string, group: string, namespace?: string): Obj[] {
    const inNs = (ns: string | undefined): boolean => namespace === undefined || ns === namespace;
    if (kind === 'Pod' && group === '') {
      return [...this.pods.values()].filter((p) => inNs(p.namespace)).sort((a, b) => a.key.localeCompare(b.key)).map((p) => this.pod(p));
    }
    const stored = this.objects.list(kind).filter((r) => r.group === group && (kind === 'Namespace' || inNs(r.metadata.namespace)));
    return stored.map((r) => this.decorate(r));
  }

  private decorate(r: ConfigResource): Obj {
    const raw = structuredClone(r.raw);
    if (r.kind === 'Deployment' && r.group === 'apps') raw.status = this.deploymentStatus(r);
    else if (r.kind === 'Service' && r.group === '') this.serviceStatus(r, raw);
    else if (r.kind === 'Namespace') raw.status = { phase: 'Active' };
    return raw;
  }

  private pod(p: PodInstance): Obj {
    const view: PodStatusView = p.status();
    const base = podResource(view, p.options).raw as Obj;
    const o = p.options;
    const meta = base.metadata as Obj;
    meta.creationTimestamp = iso(p.createdAt);
    meta.uid = uidOf(`${p.key}@${p.createdAt}`);
    meta.annotations = { ...((meta.annotations as Record<string, string> | undefined) ?? {}), ...this.podAnnotations(p) };
    if (view.phase === 'Terminating') meta.deletionTimestamp = iso(Date.now());
    if (o.owner) {
      const rs = `${o.owner.split('/')[1]}-${o.templateHash}`;
      meta.generateName = `${rs}-`;
      meta.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, controller: true, blockOwnerDeletion: true }];
    }
    const images = new Map((o.spec.containers ?? []).map((c) => [c.name, c.image ?? 'local']));
    const spec = { ...structuredClone(o.spec), serviceAccountName: o.serviceAccount, nodeName: 'mizzen-node' };
    // The injected proxy is a container of the pod, as after Istio's injection.
    if (view.sidecar && !(spec.containers ?? []).some((c) => c.name === 'istio-proxy')) {
      const proxy = { name: 'istio-proxy', image: 'mizzen/proxy', args: ['proxy', o.capture === false ? 'router' : 'sidecar'], ports: [{ name: 'http-envoy-prom', containerPort: 15090 }] };
      // a gateway's placeholder istio-proxy container merged over it, as Istio's injector does
      spec.containers = [...(spec.containers ?? []), o.proxyOverrides ? overlayContainer(proxy, o.proxyOverrides) : proxy];
    }
    const status = base.status as Obj;
    const started = view.containers.map((c) => c.status.startedAt).filter((t): t is number => t !== undefined);
    status.startTime = iso(started.length > 0 ? Math.min(...started) : p.createdAt);
    status.containerStatuses = view.containers.length > 0
      ? view.containers.map((c) => containerStatus(c, c.name === 'istio-proxy' ? 'mizzen/proxy' : images.get(c.name) ?? 'local'))
      : (spec.containers ?? []).map((c) => ({ name: c.name, image: c.image ?? 'local', ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} }));
    status.qosClass = 'BestEffort';
    return { ...base, spec, status };
  }

  private deploymentStatus(d: ConfigResource): Obj {
    const owner = `${d.metadata.namespace}/${d.metadata.name}`;
    const hash = podTemplateHash(d.spec as DeploymentSpec);
    const mine = [...this.pods.values()].filter((p) => p.options.owner === owner && p.status().phase !== 'Terminating');
    const ready = mine.filter((p) => p.isReady()).length;
    const updated = mine.filter((p) => p.options.templateHash === hash).length;
    const replicas = deploymentReplicas(d);
    return {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: mine.length,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(replicas - ready > 0 ? { unavailableReplicas: replicas - ready } : {}),
      conditions: [
        { type: 'Available', status: ready >= replicas ? 'True' : 'False', reason: ready >= replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable' },
        { type: 'Progressing', status: 'True', reason: updated >= replicas && mine.length === updated ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated' },
      ],
    };
  }

  /** Forwarded ports of a LoadBalancer Service show as its load balancer (127.0.0.1, node port = local port), else the address the mesh gave it. */
  private serviceStatus(s: ConfigResource, raw: Obj): void {
    const spec = raw.spec as ServiceSpec;
    const forwarded = this.exposures().filter((e) => e.namespace === s.metadata.namespace && e.service === s.metadata.name);
    if (spec.type === 'LoadBalancer' || forwarded.length > 0) {
      for (const p of spec.ports ?? []) {
        const f = forwarded.find((e) => e.port === p.port);
        if (f && spec.type === 'LoadBalancer') p.nodePort = f.localPort;
      }
    }
    // else the address the mesh gave it (a network's east-west gateway, mesh-networks.ts)
    const given = (s.raw.status as { loadBalancer?: Obj } | undefined)?.loadBalancer;
    raw.status = { loadBalancer: spec.type === 'LoadBalancer' && forwarded.length > 0 ? { ingress: [{ ip: '127.0.0.1' }] } : (given ?? {}) };
  }
}

function uidOf(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
