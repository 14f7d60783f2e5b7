import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import { isNotFound, type KubeApi } from '../lib/kube/kube-api.ts';
import type { KubeObject } from '../lib/kube/reflector.ts';
import { WatchedCollection } from '../lib/kube/watched-collection.ts';
import type { Logger } from '../lib/log.ts';
import { GuardRoutes } from '../runtime/guard-routes.ts';
import { renderHosts, renderResolvConf } from '../runtime/pod-dns-files.ts';
import { meshRunDir, RUN_DIR } from '../runtime/runtime-state.ts';
import { renderServiceNatRules } from '../runtime/service-nat-rules.ts';
import type { BackoffOptions } from '../runtime/supervised-process.ts';
import { EventRecorder } from './event-recorder.ts';
import { KubeletApi } from './kubelet-api.ts';
import { NetnsRelay } from './netns-relay.ts';
import { KubeNodeNetwork } from './node-network.ts';
import { NodePod } from './node-pod.ts';
import { nodeCapacity, NodeRegistration } from './node-registration.ts';
import { claimNodeState, releaseNodeState } from './node-state.ts';
import { serviceNames, serviceTable } from './service-table.ts';

type Obj = Record<string, any>;

export interface KubeNodeOptions {
  api: KubeApi;
  name: string;
  stateDir: string;
  nodeBinary: string;
  cliEntry: string;
  /** Where relative commands of containers start when they set no workingDir. */
  workdir: string;
  baseEnv: Record<string, string>;
  labels: Record<string, string>;
  /** A podCIDR when the cluster allocates none. */
  podCidr?: string;
  /** Guard route held for the whole cluster CIDR (no packet for it leaves the machine). */
  clusterCidr?: string;
  kubeletPort: number;
  clock: Clock;
  log: Logger;
  backoff?: BackoffOptions;
}

const RESYNC_MS = 10_000;
/** The kubelet's crash-loop backoff: 10 s doubling to 5 min, reset after 10 min of running. */
const KUBELET_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 });

/**
 * `mizzen node`: a kubelet for a real API server. It registers the Node (lease heartbeats),
 * builds the node network from the Node's podCIDR, watches the pods bound to it and runs each
 * as a network-namespace pod (NodePod), reports their status, and does kube-proxy's job in every
 * pod from Services and EndpointSlices, with hosts files for cluster DNS names.
 */
export class KubeNode {
  readonly o: KubeNodeOptions;
  readonly prefix: string;
  private readonly log: Logger;
  private readonly registration: NodeRegistration;
  private readonly events: EventRecorder;
  network: KubeNodeNetwork | undefined;
  private relay: NetnsRelay | undefined;
  private readonly kubelet: KubeletApi;
  private guard: GuardRoutes | undefined;
  private pods: WatchedCollection | undefined;
  private services: WatchedCollection | undefined;
  private slices: WatchedCollection | undefined;
  private nodes: WatchedCollection | undefined;
  /** Running pods by uid. */
  readonly running = new Map<string, NodePod>();
  private readonly statusWritten = new Map<string, string>();
  private readonly statusTimers = new Map<string, TimerHandle>();
  private networkTimer: TimerHandle | undefined;
  private resyncTimer: TimerHandle | undefined;
  private serviceCidr = '';
  private vethSeq = 0;
  private closed = false;
  private apiServerBackend: { address: string; port: number } | undefined;
  private readonly lookups = new Map<string, { at: number; data: Promise<Record<string, string> | undefined> }>();
  cleanedUp: string[] = [];

  constructor(o: KubeNodeOptions) {
    this.o = o;
    this.prefix = `mk${randomBytes(3).toString('hex')}`;
    this.log = o.log;
    this.registration = new NodeRegistration({ api: o.api, name: o.name, labels: o.labels, kubeletPort: o.kubeletPort, clock: o.clock, log: o.log, podCidr: o.podCidr });
    this.events = new EventRecorder({ api: o.api, nodeName: o.name, log: o.log });
    this.kubelet = new KubeletApi({ api: o.api, nodeName: o.name, nodeBinary: o.nodeBinary, cliEntry: o.cliEntry, port: o.kubeletPort, clock: o.clock, log: o.log, findPod: (ns, name) => this.findPod(ns, name) });
  }

  get runDir(): string {
    return meshRunDir(this.prefix);
  }

  async start(): Promise<void> {
    const o = this.o;
    this.cleanedUp = await claimNodeState(o.stateDir, { name: o.name, prefix: this.prefix, server: o.api.server });
    for (const line of this.cleanedUp) this.log.warn(line);
    if (o.clusterCidr) {
      this.guard = new GuardRoutes({ cidrs: [o.clusterCidr], owner: this.prefix });
      await this.guard.acquire();
    }
    await this.registration.register();
    const podCidr = await this.registration.podCidr();
    this.network = new KubeNodeNetwork({ prefix: this.prefix, podCidr, log: this.log });
    await this.network.create();
    for (const d of [RUN_DIR, this.runDir]) {
      mkdirSync(d, { recursive: true });
      chmodSync(d, 0o755);
    }
    mkdirSync(join(this.runDir, 'stage'), { recursive: true, mode: 0o700 });
    await this.startApiRelay();
    this.serviceCidr = await this.readServiceCidr();
    const watch = (path: string, what: string, apiVersion: string, kind: string, onChange: (keys: string[], deleted: KubeObject[]) => void, fieldSelector?: string): WatchedCollection =>
      new WatchedCollection({ api: o.api, path, what, apiVersion, kind, log: this.log, onChange, ...(fieldSelector ? { fieldSelector } : {}) });
    this.services = watch('/api/v1/services', 'Services', 'v1', 'Service', () => this.scheduleNetwork());
    this.slices = watch('/apis/discovery.k8s.io/v1/endpointslices', 'EndpointSlices', 'discovery.k8s.io/v1', 'EndpointSlice', () => this.scheduleNetwork());
    this.nodes = watch('/api/v1/nodes', 'Nodes', 'v1', 'Node', () => void this.syncPeers());
    this.pods = watch('/api/v1/pods', `Pods on node ${o.name}`, 'v1', 'Pod', (keys, deleted) => this.onPods(keys, deleted), `spec.nodeName=${o.name}`);
    for (const c of [this.services, this.slices, this.nodes]) c.start();
    await Promise.all([this.services.synced(), this.slices.synced(), this.nodes.synced()]);
    this.pods.start();
    await this.pods.synced();
    await this.registration.setReady(true, 'mizzen node is posting ready status', this.network.hostAddress);
    this.scheduleResync();
    this.log.info({ node: o.name, podCidr, address: this.network.hostAddress }, 'node ready');
    void this.kubelet.start(this.network.hostAddress);
  }

  /** The Service CIDR (ServiceCIDR objects, Kubernetes >= 1.33), for refusing VIPs without endpoints. */
  private async readServiceCidr(): Promise<string> {
    const list = await this.o.api.request<{ items?: Obj[] }>('GET', '/apis/networking.k8s.io/v1/servicecidrs').catch(() => undefined);
    const cidrs = (list?.items ?? []).flatMap((i) => (i.spec?.cidrs ?? []) as string[]).filter((c) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c));
    return cidrs[0] ?? '';
  }

  /** Pods reach the API server through `default/kubernetes`: relayed when the API server is on loopback. */
  private async startApiRelay(): Promise<void> {
    const url = new URL(this.o.api.server);
    const port = Number(url.port || 443);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!/^127\./.test(host) && host !== 'localhost' && host !== '::1') return;
    this.relay = new NetnsRelay({ netns: this.network!.netns, listen: { address: this.network!.gateway, port }, target: { host: host === 'localhost' ? '127.0.0.1' : host, port }, log: this.log });
    await this.relay.start();
    this.apiServerBackend = { address: this.network!.gateway, port };
  }

  private onPods(keys: string[], deleted: KubeObject[]): void {
    for (const obj of deleted) {
      const pod = this.running.get(String(obj.metadata?.uid));
      // Gone from the API (force-deleted): stop it with its grace period all the same.
      if (pod) void this.stopPod(pod, graceMs(obj), false);
    }
    for (const key of keys) {
      const obj = this.pods?.get(key);
      if (!obj) continue;
      const uid = String(obj.metadata?.uid);
      const pod = this.running.get(uid);
      const md = obj.metadata as Obj;
      if (pod) {
        pod.update(obj);
        if (md.deletionTimestamp) void this.stopPod(pod, graceMs(obj), true);
        continue;
      }
      const phase = (obj as Obj).status?.phase;
      if (md.deletionTimestamp) {
        // Nothing of it runs here: let the API server remove it.
        void this.deletePodObject(obj);
        continue;
      }
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      this.startPod(obj);
    }
  }

  private startPod(obj: KubeObject): void {
    const net = this.network!;
    const md = obj.metadata as Obj;
    const uid = String(md.uid);
    const key = `${md.namespace}/${md.name}`;
    if ((obj as Obj).spec?.hostNetwork) {
      this.log.warn({ pod: key }, 'hostNetwork pods are not run by mizzen node');
      this.events.record({ namespace: md.namespace, name: md.name, uid }, 'Warning', 'FailedCreatePodSandBox', 'mizzen node does not run hostNetwork pods');
      return;
    }
    const ip = net.podIps.allocate(uid);
    const cap = nodeCapacity();
    const subject = { namespace: String(md.namespace), name: String(md.name), uid };
    const pod: NodePod = new NodePod({
      object: obj,
      nodeName: this.o.name,
      node: net.node,
      hostIp: net.hostAddress,
      ip,
      netns: `${this.prefix}-${md.namespace}.${md.name}`.slice(0, 200),
      hostVeth: `vp${++this.vethSeq}`,
      dir: join(this.runDir, 'pods', uid),
      logDir: join(this.o.stateDir, 'logs', `${md.namespace}_${md.name}_${uid}`),
      stage: join(this.runDir, 'stage'),
      nodeBinary: this.o.nodeBinary,
      cliEntry: this.o.cliEntry,
      workdir: this.o.workdir,
      baseEnv: this.o.baseEnv,
      nodeCpu: cap.cpu,
      nodeMemory: cap.memory,
      services: () => this.services?.list() ?? [],
      volumes: { api: this.o.api, configMap: (n) => this.lookup('configmaps', String(md.namespace), n), secret: (n) => this.lookup('secrets', String(md.namespace), n) },
      network: () => this.podNetwork(pod),
      event: (type, reason, message, container) => this.events.record({ ...subject, ...(container ? { fieldPath: fieldPath(pod, container) } : {}) }, type, reason, message),
      clock: this.o.clock,
      backoff: this.o.backoff ?? KUBELET_BACKOFF,
      log: this.log,
      onChange: () => this.scheduleStatus(uid),
    });
    this.running.set(uid, pod);
    this.log.info({ pod: key, ip }, 'starting pod');
    void pod.start().catch((err: unknown) => {
      this.log.error({ pod: key, err: errorMessage(err) }, 'pod sandbox failed');
      this.events.record(subject, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${errorMessage(err)}`);
      void this.stopPod(pod, 0, false);
    });
  }

  /** Terminate, post the final status, and (when the object still exists) delete it for good. */
  private async stopPod(pod: NodePod, grace: number, deleteObject: boolean): Promise<void> {
    const first = !pod.isTerminating;
    await pod.terminate(grace);
    if (!first) return;
    this.network?.podIps.release(pod.uid);
    await this.writeStatus(pod.uid).catch(() => undefined);
    this.running.delete(pod.uid);
    this.statusTimers.get(pod.uid)?.cancel();
    this.statusTimers.delete(pod.uid);
    this.statusWritten.delete(pod.uid);
    this.events.forget(pod.uid);
    const md = pod.object.metadata as Obj;
    rmSync(join(this.o.stateDir, 'logs', `${md.namespace}_${md.name}_${pod.uid}`), { recursive: true, force: true });
    if (deleteObject) await this.deletePodObject(pod.object);
  }

  private async deletePodObject(obj: KubeObject): Promise<void> {
    const md = obj.metadata as Obj;
    await this.o.api
      .request('DELETE', `/api/v1/namespaces/${md.namespace}/pods/${md.name}`, { body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: md.uid } } })
      .catch((err: unknown) => {
        if (!isNotFound(err)) this.log.warn({ pod: `${md.namespace}/${md.name}`, err: errorMessage(err) }, 'cannot delete the pod object');
      });
  }

  private scheduleStatus(uid: string): void {
    if (this.statusTimers.has(uid) || this.closed) return;
    this.statusTimers.set(
      uid,
      this.o.clock.setTimer(() => {
        this.statusTimers.delete(uid);
        void this.writeStatus(uid).catch((err: unknown) => this.log.warn({ uid, err: errorMessage(err) }, 'pod status not written'));
      }, 50),
    );
  }

  /** PATCH the status subresource when it changed (uid in the patch: a recreated pod is not touched). */
  private async writeStatus(uid: string): Promise<void> {
    const pod = this.running.get(uid);
    if (!pod) return;
    const status = pod.status();
    const key = JSON.stringify({ ...status, conditions: (status.conditions as Obj[]).map((c) => [c.type, c.status, c.message]) });
    if (this.statusWritten.get(uid) === key) return;
    const md = pod.object.metadata as Obj;
    try {
      await this.o.api.request('PATCH', `/api/v1/namespaces/${md.namespace}/pods/${md.name}/status`, { body: { metadata: { uid }, status }, contentType: 'application/merge-patch+json' });
      this.statusWritten.set(uid, key);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** ConfigMap / Secret data of a namespace, cached for 2 s (volumes and env of one pod read them together). */
  private lookup(plural: 'configmaps' | 'secrets', namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const key = `${plural}/${namespace}/${name}`;
    const hit = this.lookups.get(key);
    if (hit && this.o.clock.now() - hit.at < 2000) return hit.data;
    const data = this.o.api
      .request<Obj>('GET', `/api/v1/namespaces/${namespace}/${plural}/${name}`)
      .then((o) => {
        if (plural === 'configmaps') return { ...(o.data ?? {}), ...Object.fromEntries(Object.entries((o.binaryData ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('latin1')])) };
        return Object.fromEntries(Object.entries((o.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      })
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
    this.lookups.set(key, { at: this.o.clock.now(), data });
    return data;
  }

  private podNetwork(pod: NodePod): { hosts: string; resolvConf: string; serviceRules: string } {
    const services = this.services?.list() ?? [];
    const md = pod.object.metadata as Obj;
    return {
      hosts: renderHosts({ name: String((pod.object as Obj).spec?.hostname ?? md.name), namespace: String(md.namespace), ip: pod.ip }, serviceNames(services)),
      resolvConf: renderResolvConf(String(md.namespace)),
      serviceRules: renderServiceNatRules(serviceTable(services, this.slices?.list() ?? [], this.apiServerBackend), this.serviceCidr || '255.255.255.255/32'),
    };
  }

  private scheduleNetwork(): void {
    if (this.networkTimer || this.closed) return;
    this.networkTimer = this.o.clock.setTimer(() => {
      this.networkTimer = undefined;
      void (async () => {
        for (const pod of this.running.values()) {
          if (pod.isTerminating) continue;
          await pod.syncNetwork().catch((err: unknown) => this.log.warn({ pod: pod.key, err: errorMessage(err) }, 'cannot update the pod network'));
        }
      })();
    }, 50);
  }

  private async syncPeers(): Promise<void> {
    const cidrs = (this.nodes?.list() ?? []).filter((n) => n.metadata?.name !== this.o.name).map((n) => (n as Obj).spec?.podCIDR as string | undefined).filter((c): c is string => Boolean(c));
    await this.network?.setPeers(cidrs).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'cannot route to the other nodes'));
  }

  private scheduleResync(): void {
    if (this.closed) return;
    this.resyncTimer = this.o.clock.setTimer(() => {
      void (async () => {
        for (const pod of this.running.values()) await pod.resync().catch((err: unknown) => this.log.warn({ pod: pod.key, err: errorMessage(err) }, 'pod resync failed'));
        for (const uid of this.running.keys()) this.scheduleStatus(uid);
      })().finally(() => this.scheduleResync());
    }, RESYNC_MS);
  }

  /** A pod of this node by namespace and name (logs, exec). */
  findPod(namespace: string, name: string): NodePod | undefined {
    return [...this.running.values()].find((p) => p.object.metadata?.namespace === namespace && p.object.metadata?.name === name);
  }

  /**
   * Stop: every pod (grace `graceMs`, their objects stay: the node went away, not the pods),
   * the network, the heartbeats. The Node object stays, NotReady, as a stopped kubelet's.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.kubelet.close();
    this.resyncTimer?.cancel();
    this.networkTimer?.cancel();
    for (const t of this.statusTimers.values()) t.cancel();
    await Promise.all([this.pods?.close(), this.services?.close(), this.slices?.close(), this.nodes?.close()]);
    await Promise.all([...this.running.values()].map((p) => p.terminate(graceMs)));
    await this.registration.close('mizzen node stopped');
    await this.relay?.close();
    await this.network?.destroy();
    rmSync(this.runDir, { recursive: true, force: true });
    rmSync(join(this.o.stateDir, 'logs'), { recursive: true, force: true });
    await this.guard?.release();
    releaseNodeState(this.o.stateDir);
  }
}

/** The grace period of a deletion (or of the spec), in ms. */
function graceMs(obj: KubeObject): number {
  const md = obj.metadata as Obj;
  const s = md.deletionGracePeriodSeconds ?? (obj as Obj).spec?.terminationGracePeriodSeconds ?? 30;
  return Math.max(0, Number(s)) * 1000;
}

function fieldPath(pod: NodePod, container: string): string {
  const init = pod.initContainers.some((c) => c.name === container);
  return `spec.${init ? 'initContainers' : 'containers'}{${container}}`;
}
