import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigResource } from '../api/config-resource.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { AmbientNodeAgent } from './ambient-node-agent.ts';
import { decideAmbient, REDIRECTION_ANNOTATION } from './ambient-selection.ts';
import type { ConfigDirWriter } from './config-dir-writer.ts';
import type { PodInstance } from './pod-instance.ts';
import type { NodeNetwork } from './pod-network.ts';
import { podResource } from './pod-resource.ts';
import { meshRunDir } from './runtime-state.ts';
import type { BackoffOptions } from './supervised-process.ts';
import { ZtunnelProcess } from './ztunnel-process.ts';

export interface AmbientPodsOptions {
  prefix: string;
  stateDir: string;
  node: NodeNetwork;
  /** kube-dns's address (ztunnel's DNS capture answers for it). */
  dnsServer: string;
  nodeBinary: string;
  cliEntry: string;
  baseEnv: Record<string, string>;
  clock: Clock;
  backoff?: BackoffOptions;
  log: Logger;
  config: ConfigDirWriter;
  /** Mint ztunnel's token bound to its Pod object; undefined: ambient labels are ignored (with a warning). */
  mintToken?: (namespace: string, serviceAccount: string, pod: { name: string; uid: string }) => Promise<string>;
  /** Istio's ztunnel binary to run instead of mizzen's (interop). */
  istioZtunnel?: string;
  namespaceLabels: (ns: string) => Record<string, string>;
  waitForControlPlane: (timeoutMs: number) => Promise<void>;
  /** Enrollment state changed or ztunnel started: pod state should be pushed again. */
  onChange: (delayMs: number) => void;
}

/**
 * Ambient mode of the local mesh, istio-cni's role on the node: which pods are ambient (their
 * labels and their namespace's), their enrollment with the node's ztunnel (started with the
 * first ambient pod, with its own Pod object and bound token), and the Pod objects the control
 * plane sees (uid, redirection annotation).
 */
export class AmbientPods {
  private readonly o: AmbientPodsOptions;
  /** undefined without a control plane or ambient support. */
  private readonly agent: AmbientNodeAgent | undefined;
  private ztunnel: ZtunnelProcess | undefined;
  private ztunnelPod: ConfigResource | undefined;
  /** ZDS uid of each running pod (its Kubernetes uid). */
  private readonly podUids = new Map<string, string>();
  private warned = false;
  private closed = false;

  constructor(o: AmbientPodsOptions) {
    this.o = o;
    if (!o.mintToken) return;
    this.agent = new AmbientNodeAgent({
      zdsSocket: join(meshRunDir(o.prefix), 'ztunnel.sock'),
      exemptSources: [o.node.address],
      startZtunnel: () => void this.startZtunnel().catch((err: Error) => o.log.error({ err: err.message }, 'ztunnel failed to start')),
      onChange: () => o.onChange(0),
      dnsCapture: true,
      dnsServer: o.dnsServer,
      log: o.log,
    });
  }

  start(): void {
    if (!this.agent) return;
    mkdirSync(meshRunDir(this.o.prefix), { recursive: true });
    this.agent.start();
  }

  /** The node's ztunnel, started with the first ambient pod: its Pod object, bound token, then the process. */
  private async startZtunnel(): Promise<void> {
    const o = this.o;
    if (!o.mintToken || this.ztunnel || this.closed) return;
    await o.waitForControlPlane(120_000);
    const name = 'ztunnel-mizzen-node';
    const uid = randomUUID();
    // annotated for Prometheus' kubernetes-pods job as Istio's ztunnel chart does (metrics on 15020)
    const metadata = { name, namespace: 'istio-system', uid, labels: { app: 'ztunnel' }, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020', 'sidecar.istio.io/inject': 'false' } };
    const spec = { serviceAccountName: 'ztunnel', nodeName: 'mizzen-node', hostNetwork: true, containers: [{ name: 'istio-proxy', image: 'mizzen/ztunnel' }] };
    const status = { phase: 'Running', podIP: o.node.address, podIPs: [{ ip: o.node.address }], conditions: [{ type: 'Ready', status: 'True' }] };
    this.ztunnelPod = { apiVersion: 'v1', kind: 'Pod', group: '', version: 'v1', metadata, spec, raw: { apiVersion: 'v1', kind: 'Pod', metadata, spec, status } };
    o.config.write(this.ztunnelPod);
    const tokenFile = join(meshRunDir(o.prefix), 'ztunnel-token');
    writeFileSync(tokenFile, await o.mintToken('istio-system', 'ztunnel', { name, uid }), { mode: 0o600 });
    if (this.closed) return;
    this.ztunnel = new ZtunnelProcess({
      netns: o.node.netns,
      nodeName: 'mizzen-node',
      podName: name,
      podIp: o.node.address,
      discoveryAddress: o.node.address,
      caRootFile: join(o.stateDir, 'ca', 'root-cert.pem'),
      tokenFile,
      zdsSocket: join(meshRunDir(o.prefix), 'ztunnel.sock'),
      logDir: join(o.stateDir, 'logs'),
      nodeBinary: o.nodeBinary,
      cliEntry: o.cliEntry,
      env: o.baseEnv,
      clock: o.clock,
      log: o.log,
      backoff: o.backoff,
      ...(o.istioZtunnel ? { istioBinary: o.istioZtunnel } : {}),
    });
    this.ztunnel.start();
    o.onChange(20);
    o.log.info('ztunnel started for ambient pods');
  }

  /** The Pod object for the control plane: status, uid, and the ambient redirection annotation (its enrollment state unless given). */
  podObject(pod: PodInstance, redirection: string | undefined = this.agent?.state(pod.key)): ConfigResource {
    const res = podResource(pod.status(), pod.options);
    const uid = this.podUids.get(pod.key);
    if (uid) res.metadata.uid = uid;
    if (redirection) res.metadata.annotations = { ...(res.metadata.annotations ?? {}), [REDIRECTION_ANNOTATION]: redirection };
    res.raw.metadata = res.metadata;
    return res;
  }

  /** What istio-cni writes on the pod: `ambient.istio.io/redirection` while it is enrolled (pending, then enabled). */
  controllerAnnotations(pod: PodInstance): Record<string, string> {
    const state = this.agent?.state(pod.key);
    return state ? { [REDIRECTION_ANNOTATION]: state } : {};
  }

  /** ztunnel's own Pod object once it runs (the addons discover it as a pod). */
  nodePods(): ConfigResource[] {
    return this.ztunnelPod ? [this.ztunnelPod] : [];
  }

  /** Does this pod belong in ambient mode, given its namespace's labels now? */
  private wants(pod: PodInstance): boolean {
    const ns = pod.namespace;
    return decideAmbient({ namespace: ns, namespaceLabels: this.o.namespaceLabels(ns), podLabels: pod.options.labels, podAnnotations: pod.options.annotations, hostNetwork: pod.options.spec.hostNetwork, sidecar: pod.options.sidecar !== undefined }).ambient;
  }

  private ambientPod(pod: PodInstance): Parameters<AmbientNodeAgent['enroll']>[0] {
    let uid = this.podUids.get(pod.key);
    if (!uid) this.podUids.set(pod.key, (uid = randomUUID()));
    return { key: pod.key, uid, name: pod.name, namespace: pod.namespace, serviceAccount: pod.options.serviceAccount, netns: pod.options.netns, annotations: pod.options.annotations };
  }

  /** A new pod's CNI step, before its containers start: an ambient pod is enrolled (its Pod object written first, for ztunnel's certificate). */
  async beforeContainers(pod: PodInstance): Promise<void> {
    if (!this.agent || !this.wants(pod)) return;
    this.o.config.write(this.podObject(pod, 'pending'));
    await this.agent.enroll(this.ambientPod(pod));
  }

  /** Enroll or release running pods whose labels (or their namespace's) changed: no restart. */
  reconcile(pods: Iterable<PodInstance>): void {
    const agent = this.agent;
    for (const pod of pods) {
      const want = this.wants(pod);
      if (want && !agent) {
        if (!this.warned) this.o.log.warn({ pod: pod.key }, 'ambient mode needs the control plane: the pod runs without it');
        this.warned = true;
        continue;
      }
      if (!agent || !pod.isStarted()) continue;
      const enrolled = agent.isEnrolled(pod.key);
      if (want && !enrolled) void agent.enroll(this.ambientPod(pod)).catch((err: Error) => this.o.log.warn({ pod: pod.key, err: err.message }, 'ambient enrollment failed'));
      else if (!want && enrolled) void agent.unenroll(this.ambientPod(pod)).catch((err: Error) => this.o.log.warn({ pod: pod.key, err: err.message }, 'leaving ambient mode failed'));
    }
  }

  /** A pod going away: released from ztunnel (its netns is about to go). */
  async release(pod: PodInstance): Promise<void> {
    if (this.agent?.isEnrolled(pod.key)) await this.agent.unenroll(this.ambientPod(pod), true).catch(() => {});
    this.podUids.delete(pod.key);
  }

  /** What `up` still waits for (ztunnel once it was started). */
  waitingFor(): string[] {
    return this.ztunnel && !this.ztunnel.isReady() ? ['ztunnel (ambient mode)'] : [];
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ztunnel?.stop();
    this.agent?.close();
  }
}
