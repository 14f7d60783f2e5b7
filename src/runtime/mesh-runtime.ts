import { dirname, join } from 'node:path';
import { resourceKey, type ConfigResource } from '../api/config-resource.ts';
import { issueLines } from './issue-lines.ts';
import { MizzenError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { ChangeResult, MeshRuntimeOptions } from './mesh-runtime-options.ts';
import { ConfigDirWriter } from './config-dir-writer.ts';
import { GuardRoutes } from './guard-routes.ts';
import { AddressPool } from './ipam.ts';
import { deleteNetns } from './netns.ts';
import type { PodInstance } from './pod-instance.ts';
import { createNodeNetwork, type NodeNetwork } from './pod-network.ts';
import { PodStatePublisher } from './pod-state-publisher.ts';
import { MeshNetworks, NETWORK_LABEL } from './mesh-networks.ts';
import { MeshLabels } from './mesh-labels.ts';
import { MeshStatusViews } from './mesh-status-views.ts';
import { AmbientPods } from './ambient-pods.ts';
import { ControlPlaneProcess } from './control-plane-process.ts';
import { ClusterObjects, SYSTEM_NAMESPACES } from './cluster-objects.ts';
import { containerProblems, type ContainerProblem } from './container-problems.ts';
import { accessBlocker } from './path-view.ts';
import { KubeObjectViews, type Exposure } from './kube-object-views.ts';
import { deletedLine, kindLabel, plural, withRestartStamp, type ObjectRef } from './object-edits.ts';
import { barePodHash, barePodKey, isBarePod } from './bare-pods.ts';
import { GatewayDeploymentController } from './gateway-deployment-controller.ts';
import { PodLauncher } from './pod-launcher.ts';
import { PodReconciler } from './pod-reconciler.ts';

/**
 * The composition of a local mesh: desired objects (Kubernetes + Istio), the node network,
 * the control plane, and pods reconciled from Deployments. Every change goes through one queue.
 */
export class MeshRuntime {
  readonly options: MeshRuntimeOptions;
  readonly node: NodeNetwork;
  private readonly log: Logger;
  private readonly objects: ClusterObjects;
  private readonly pods = new Map<string, PodInstance>();
  private readonly podIps: AddressPool;
  private readonly guard: GuardRoutes;
  private readonly config: ConfigDirWriter;
  /** Read-only views of pods, Services and Deployments (kubectl get, port forwards, readiness). */
  readonly views: MeshStatusViews;
  /** Pod objects, Service rules and hosts files published from the running pods. */
  private readonly podState: PodStatePublisher;
  /** `kubectl label` on stored objects and running pods. */
  private readonly labels: MeshLabels;
  /** Other networks than the node's (Istio multi-network): their nodes, links and gateway addresses. */
  private readonly networks: MeshNetworks;
  private readonly exposures: Exposure[] = [];
  private readonly objectViews: KubeObjectViews;
  private discovery: ControlPlaneProcess | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Pod changes seen / pushed to Service rules, hosts files and Pod objects. */
  private changeSeq = 0;
  private appliedSeq = 0;
  private refreshTimer: { cancel(): void } | undefined;
  private closed = false;
  /** istio-cni's role for ambient pods, and the node's ztunnel. */
  private readonly ambient: AmbientPods;
  /** istiod's gateway deployment controller and Gateway status writer (Gateway API). */
  private readonly gatewayController: GatewayDeploymentController;
  /** The kubelet's part: pods created, terminated (drained) and removed (pod-launcher.ts). */
  private readonly launcher: PodLauncher;
  /** The Deployment and ReplicaSet controllers' part (pod-reconciler.ts). */
  private readonly reconciler: PodReconciler;

  constructor(options: MeshRuntimeOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger();
    this.podIps = new AddressPool(options.podCidr, { firstOffset: 2 });
    this.objects = new ClusterObjects(options.serviceCidr, () => options.clock.now());
    this.node = { netns: `${options.prefix}-node`, bridge: 'mzbr0', address: this.podIps.addressAt(1), prefixLength: Number(options.podCidr.split('/')[1]) };
    this.podIps.reserve('node', this.node.address);
    this.networks = new MeshNetworks({ prefix: options.prefix, podCidr: options.podCidr, defaultNode: this.node, defaultPool: this.podIps, log: this.log });
    this.guard = new GuardRoutes({ cidrs: [this.podIps.cidrText, this.objects.vips.cidrText], owner: options.prefix });
    this.config = new ConfigDirWriter(join(options.stateDir, 'config'));
    this.views = new MeshStatusViews(this.pods, this.objects);
    this.gatewayController = new GatewayDeploymentController(this.objects, this.config, this.views, options.clock);
    this.objectViews = new KubeObjectViews(this.pods, this.objects, () => this.exposures, (p) => this.ambient.controllerAnnotations(p));
    this.ambient = new AmbientPods({
      prefix: options.prefix,
      stateDir: options.stateDir,
      node: this.node,
      // kube-dns's address; service VIPs are allocated from offset 10 up
      dnsServer: this.objects.vips.addressAt(9),
      nodeBinary: options.nodeBinary,
      cliEntry: options.cliEntry,
      baseEnv: options.baseEnv,
      clock: options.clock,
      backoff: options.backoff,
      log: this.log,
      config: this.config,
      ...(options.ambient && options.controlPlane ? { mintToken: options.ambient.mintToken, ...(options.ambient.istioZtunnel ? { istioZtunnel: options.ambient.istioZtunnel } : {}) } : {}),
      namespaceLabels: (ns) => this.objects.namespaceLabels(ns),
      waitForControlPlane: (ms) => this.waitForControlPlane(ms),
      onChange: (ms) => this.scheduleRefresh(ms),
    });
    this.labels = new MeshLabels({ objects: this.objects, config: this.config, pods: this.pods, gatewayController: this.gatewayController, ambient: this.ambient, networks: this.networks, scheduleRefresh: (ms) => this.scheduleRefresh(ms) });
    this.podState = new PodStatePublisher({ pods: this.pods, objects: this.objects, views: this.views, config: this.config, ambient: this.ambient, log: this.log, ...(options.onPodObjects ? { onPodObjects: options.onPodObjects } : {}) });
    this.launcher = new PodLauncher({
      runtime: options,
      log: this.log,
      pods: this.pods,
      objects: this.objects,
      networks: this.networks,
      ambient: this.ambient,
      podState: this.podState,
      config: this.config,
      enqueue: (fn) => this.enqueue(fn),
      isClosed: () => this.closed,
      controlPlaneRuns: () => this.discovery !== undefined,
      waitForControlPlane: (ms) => this.waitForControlPlane(ms),
      scheduleRefresh: (ms) => this.scheduleRefresh(ms),
    });
    this.reconciler = new PodReconciler({ objects: this.objects, pods: this.pods, launcher: this.launcher, podState: this.podState, ambient: this.ambient, isClosed: () => this.closed, scheduleRefresh: (ms) => this.scheduleRefresh(ms) });
  }

  get discoveryAddress(): string {
    return this.node.address;
  }

  /** Guard routes first, then the node namespace, then the control plane. */
  async start(): Promise<void> {
    await this.guard.acquire();
    this.config.clear();
    await createNodeNetwork(this.node);
    this.ambient.start();
    if (this.options.controlPlane) this.startDiscovery();
  }

  private startDiscovery(): void {
    const o = this.options;
    this.discovery = new ControlPlaneProcess({ netns: this.node.netns, stateDir: o.stateDir, nodeBinary: o.nodeBinary, cliEntry: o.cliEntry, env: o.baseEnv, clock: o.clock, log: this.log, backoff: o.backoff });
    this.discovery.start();
  }

  /** Pods are created once the control plane answers (as injection needs istiod). */
  async waitForControlPlane(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.discovery && !this.discovery.isReady()) {
      if (Date.now() > deadline) {
        throw new MizzenError('RUNTIME_FAILED', `the control plane (mizzen discovery) was not ready after ${timeoutMs / 1000}s`, {
          hint: `see ${join(this.options.stateDir, 'logs', 'discovery.log')}`,
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Serialise every change to the mesh. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Validate every resource, then (only when all are valid) store them, write them for the
   * control plane and reconcile pods. Invalid input changes nothing. Resolves once scaled-down
   * pods are gone; a changed pod template rolls out in the background (surge, then drain).
   */
  async apply(resources: readonly ConfigResource[], problems: readonly string[] = []): Promise<ChangeResult> {
    const { result, terminations } = await this.enqueue(async () => {
      const errors = [...problems, ...this.check(resources)];
      const normalized = resources.map((r) => this.objects.normalize(r));
      if (errors.length > 0) return { result: { ok: false, errors, changes: [] }, terminations: [] };
      const changes: string[] = [];
      // the default network (istio-system's label) is known before any Service of this batch gets its network's address
      const system = normalized.find((r) => r.kind === 'Namespace' && r.group === '' && r.metadata.name === 'istio-system');
      this.networks.setDefaultName((system?.metadata.labels as Record<string, string> | undefined)?.[NETWORK_LABEL] ?? this.objects.namespaceLabels('istio-system')[NETWORK_LABEL]);
      for (const r of normalized) {
        const put = this.objects.put(r);
        const { prev, changed } = put;
        // a network's LoadBalancer Service gets that network's address (mesh-networks.ts)
        const lb = changed ? this.networks.loadBalancerStatus(put.stored) : undefined;
        const stored = lb ? (this.objects.putStatus(resourceKey(put.stored), lb) ?? put.stored) : put.stored;
        if (stored.kind === 'Service') this.networks.noteService(stored);
        // A bare Pod reaches the control plane as the running pod (pushPodState), not as its manifest.
        if (changed && !isBarePod(stored)) this.config.write(stored);
        const recreated = isBarePod(stored) && prev !== undefined && barePodHash(prev) !== barePodHash(stored);
        changes.push(`${kindLabel(r)} ${prev === undefined ? 'created' : !changed ? 'unchanged' : recreated ? 'recreated (a Pod spec cannot be updated in place)' : 'configured'}`);
      }
      this.gatewayController.sync();
      return { result: { ok: true, errors: [], changes }, terminations: await this.reconciler.reconcile() };
    });
    await Promise.all(terminations);
    return result;
  }

  /** The stored objects of a kind (store kind: `KubernetesGateway` for Gateway API Gateways), optionally of one namespace. */
  storedObjectsOf(kind: string, namespace?: string): ConfigResource[] {
    return this.objects.list(kind).filter((r) => namespace === undefined || (r.metadata.namespace ?? '') === namespace);
  }

  /** Validation errors of resources, as `FILE:LINE: Kind ns/name: field.path: message` lines (the field's line). */
  check(resources: readonly ConfigResource[]): string[] {
    return issueLines(resources.map((x) => this.objects.normalize(x)), this.options.validate);
  }

  /** Warnings about resources that are accepted, in the same line format as `check`. */
  warningsFor(resources: readonly ConfigResource[]): string[] {
    return issueLines(resources.map((x) => this.objects.normalize(x)), this.options.warn);
  }

  /** Delete resources (from manifests); kubectl's lines, `not found` errors. */
  delete(resources: readonly ConfigResource[]): Promise<ChangeResult> {
    return this.deleteRefs(resources.map((r) => this.objects.normalize(r)));
  }

  /**
   * Delete objects by reference (`mizzen delete KIND NAME`). A Namespace takes everything in it;
   * a Deployment's pod is replaced by a new one (as its ReplicaSet would). Resolves once the
   * pods that go are gone.
   */
  async deleteRefs(refs: readonly ObjectRef[]): Promise<ChangeResult> {
    const { result, terminations } = await this.enqueue(async () => {
      const changes: string[] = [];
      const errors: string[] = [];
      const podStops: Promise<void>[] = [];
      for (const ref of refs) {
        if (ref.kind === 'Pod' && ref.group === '') {
          const pod = this.pods.get(`${ref.metadata.namespace ?? 'default'}/${ref.metadata.name}`);
          const bare = this.objects.remove(resourceKey(ref));
          if (!pod && !bare) {
            errors.push(`${plural(ref)} "${ref.metadata.name}" not found`);
            continue;
          }
          if (pod && !bare) podStops.push(this.launcher.terminate(pod));
          changes.push(deletedLine(ref));
          continue;
        }
        if (ref.kind === 'Namespace' && SYSTEM_NAMESPACES.includes(ref.metadata.name)) {
          errors.push(`namespaces "${ref.metadata.name}" is forbidden: this namespace may not be deleted`);
          continue;
        }
        const prev = this.objects.remove(resourceKey(ref));
        if (!prev) {
          errors.push(`${plural(ref)} "${ref.metadata.name}" not found`);
          continue;
        }
        if (prev.kind === 'Namespace') {
          for (const inside of this.objects.inNamespace(prev.metadata.name)) {
            this.objects.remove(resourceKey(inside));
            this.config.remove(inside);
          }
        }
        this.config.remove(prev);
        changes.push(deletedLine(prev));
      }
      this.gatewayController.sync();
      const terminations = [...podStops, ...(await this.reconciler.reconcile())];
      return { result: { ok: errors.length === 0, errors, changes }, terminations };
    });
    await Promise.all(terminations);
    return result;
  }

  /** `kubectl label`: set (value) or remove (null) labels of a stored object, or of a running pod (mesh-labels.ts). */
  label(ref: ObjectRef, labels: Readonly<Record<string, string | null>>, overwrite: boolean): Promise<ChangeResult> {
    return this.enqueue(async () => this.labels.label(ref, labels, overwrite));
  }

  /**
   * `kubectl rollout restart`: stamp the pod template with `kubectl.kubernetes.io/restartedAt`,
   * so the Deployment rolls its pods (new ones first, old ones drained once those are ready).
   */
  restart(namespace: string, name: string): Promise<ChangeResult> {
    return this.enqueue(async () => {
      const d = this.objects.get(`apps/Deployment/${namespace}/${name}`);
      if (!d) return { ok: false, errors: [`deployments.apps "${name}" not found`], changes: [] };
      const { stored } = this.objects.put(withRestartStamp(d, new Date(this.options.clock.now()).toISOString()));
      this.config.write(stored);
      void this.reconciler.reconcile().catch((err: Error) => this.log.warn({ err: err.message }, 'rollout failed'));
      return { ok: true, errors: [], changes: [`${kindLabel(d)} restarted`] };
    });
  }

  /** Objects of one kind as the Kubernetes API shows them (`mizzen get`). */
  objectsOf(kind: string, group: string, namespace?: string): Record<string, unknown>[] {
    return this.objectViews.list(kind, group, namespace);
  }

  /** A Service port forwarded to 127.0.0.1 (shown as the Service's load balancer). */
  addExposure(e: Exposure): void {
    this.exposures.push(e);
  }

  private scheduleRefresh(ms: number): void {
    this.changeSeq++;
    if (this.refreshTimer || this.closed) return;
    this.refreshTimer = this.options.clock.setTimer(() => {
      this.refreshTimer = undefined;
      void this.enqueue(() => this.refresh()).catch((err: Error) => this.log.warn({ err: err.message }, 'refresh failed'));
    }, ms);
  }

  /** Push pods' state out: Pod objects for the control plane, hosts files and Service DNAT tables. */
  private async refresh(): Promise<void> {
    if (this.closed) return;
    const seq = this.changeSeq;
    try {
      await this.podState.publish();
      await this.networks.syncRules(this.objects.serviceViews(), this.views.endpointPods());
      this.gatewayController.writeStatuses();
      // Readiness changed: a rollout may take its next step (its terminations run on their own).
      await this.reconciler.reconcile({ rolloutsOnly: true });
    } finally {
      this.appliedSeq = seq;
    }
  }

  /** Every pod ready and, when it runs, the control plane ready; failing containers with their cause. */
  readiness(): { ready: boolean; waitingFor: string[]; problems: ContainerProblem[] } {
    const waitingFor: string[] = [];
    if (this.discovery && !this.discovery.isReady()) waitingFor.push('control plane (mizzen discovery)');
    waitingFor.push(...this.ambient.waitingFor());
    if (this.appliedSeq !== this.changeSeq) waitingFor.push('Service rules and hosts files to reflect the pods');
    for (const d of this.views.deploymentViews()) if (d.ready < d.replicas) waitingFor.push(`deployment ${d.namespace}/${d.name} (${d.ready}/${d.replicas} ready)`);
    // Bare pods: ready, or finished under a restartPolicy that does not restart them.
    for (const p of this.views.podViews()) if (p.owner === undefined && !p.ready && p.phase !== 'Completed' && p.phase !== 'Error') waitingFor.push(`pod ${p.namespace}/${p.name}`);
    for (const b of this.objects.list('Pod').filter(isBarePod)) if (!this.pods.has(barePodKey(b))) waitingFor.push(`pod ${barePodKey(b)} (not created)`);
    const cp = this.discovery?.problem();
    // A sidecar sees mizzen's checkout through its path view (path-view.ts): explain from there down.
    const installRoot = dirname(dirname(this.options.cliEntry));
    const explain = (path: string, uid: number, gid: number, sidecar: boolean): string | undefined => accessBlocker(path, { uid, gid }, sidecar ? [installRoot] : []);
    const problems = [...(cp ? [cp] : []), ...containerProblems(this.views.podViews(), explain)];
    return { ready: waitingFor.length === 0, waitingFor, problems };
  }

  /** Stop everything and remove what start() made (the state directory itself stays). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue(async () => {
      this.closed = true;
      this.refreshTimer?.cancel();
      await Promise.all([...this.pods.values()].map((p) => this.launcher.remove(p)));
      await this.ambient.close();
      await this.discovery?.stop();
      await this.networks.close();
      await deleteNetns(this.node.netns);
      await this.guard.release();
    });
  }

}