import { rmSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { Logger } from '../lib/log.ts';
import type { AmbientPods } from './ambient-pods.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import type { ConfigDirWriter } from './config-dir-writer.ts';
import { DISCOVERY_SOCKET } from './control-plane-process.ts';
import { corednsHosts } from './coredns-hosts.ts';
import { waitForEndpointDrain } from './endpoint-drain.ts';
import { waitForEndpointRegistration } from './endpoint-registration.ts';
import { NETWORK_LABEL, type MeshNetworks } from './mesh-networks.ts';
import type { MeshRuntimeOptions } from './mesh-runtime-options.ts';
import { renderHosts, renderResolvConf } from './pod-dns-files.ts';
import { podInjection } from './pod-injection.ts';
import { PodInstance } from './pod-instance.ts';
import type { PodPlan } from './pod-plan.ts';
import type { PodStatePublisher } from './pod-state-publisher.ts';
import { makePodRunDirs, podRunDir } from './runtime-state.ts';
import { selects } from './service-endpoints.ts';
import { proxyMetadata, sidecarEnablesHbone } from './sidecar-command.ts';

export interface PodLauncherOptions {
  runtime: Pick<MeshRuntimeOptions, 'prefix' | 'stateDir' | 'sidecar' | 'cliEntry' | 'baseEnv' | 'nodeBinary' | 'clock' | 'backoff'>;
  log: Logger;
  /** The running pods, by `namespace/name` (shared with the runtime's views). */
  pods: Map<string, PodInstance>;
  objects: ClusterObjects;
  networks: MeshNetworks;
  ambient: AmbientPods;
  podState: PodStatePublisher;
  config: ConfigDirWriter;
  /** Run a step in the runtime's change queue. */
  enqueue: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The runtime is closing or closed: no more publications or drains. */
  isClosed: () => boolean;
  /** A control plane runs (mizzen discovery): endpoint registration and drain are waited on. */
  controlPlaneRuns: () => boolean;
  waitForControlPlane: (timeoutMs: number) => Promise<void>;
  scheduleRefresh: (ms: number) => void;
}

/**
 * The kubelet's part of the local mesh: a pod made from its plan (network placement, injection,
 * the sidecar once the control plane knows the pod), taken out of service and stopped as
 * Kubernetes terminates a pod (not ready, endpoints drained, then stopped), and removed.
 */
export class PodLauncher {
  private readonly o: PodLauncherOptions;
  /** Pods being terminated (drained, then stopped), by key. */
  private readonly terminating = new Map<string, Promise<void>>();
  private vethSeq = 0;

  constructor(options: PodLauncherOptions) {
    this.o = options;
  }

  /**
   * Take a pod out of service and stop it, as the kubelet and endpoints controller do: not ready
   * at once (Pod status, Service rules), its address out of every proxy's endpoints (when a
   * control plane runs), then its processes stopped. Runs outside the change queue.
   */
  terminate(pod: PodInstance): Promise<void> {
    if (pod.isTerminating) return this.terminating.get(pod.key) ?? Promise.resolve();
    const o = this.o;
    pod.beginTermination();
    const done = (async () => {
      await o.enqueue(async () => {
        if (!o.isClosed()) await o.podState.publish();
      }).catch(() => {});
      if (o.controlPlaneRuns() && !o.isClosed()) {
        // bounded as Kubernetes' default terminationGracePeriodSeconds (30 s)
        const drained = await waitForEndpointDrain(join(o.runtime.stateDir, DISCOVERY_SOCKET), pod.ip, { timeoutMs: 30_000, graceMs: 1000 });
        if (!drained) o.log.warn({ pod: pod.key, ip: pod.ip }, 'stopping a terminating pod before every proxy acknowledged endpoints without it (30 s): requests in flight to it may fail');
      }
      await o.enqueue(async () => {
        if (o.pods.get(pod.key) === pod) await this.remove(pod);
      });
    })().finally(() => this.terminating.delete(pod.key));
    this.terminating.set(pod.key, done);
    return done;
  }

  /** Create and start one pod (of a Deployment, or a bare Pod when `owner` is undefined). */
  async create(plan: PodPlan): Promise<void> {
    const o = this.o;
    const r = o.runtime;
    const { name, hash } = plan;
    const ns = plan.namespace;
    const key = `${ns}/${name}`;
    // Its network's node (Istio multi-network); the pod carries the network it was placed on.
    const network = o.networks.networkOf(plan.labels, o.objects.namespaceLabels(ns));
    const place = await o.networks.placement(network);
    const labels = network !== '' && plan.labels[NETWORK_LABEL] === undefined ? { ...plan.labels, [NETWORK_LABEL]: network } : plan.labels;
    const build = r.sidecar;
    const inj = podInjection(plan, o.objects.namespaceLabels(ns), o.objects.list('ConfigMap'), build !== undefined);
    const ip = place.pool.allocate(key);
    const { podDir, pathViewStage } = makePodRunDirs(r.prefix, ns, name);
    // The pod's network and rules are made at once; its sidecar waits for the control plane.
    const sidecar = inj.inject && build
      ? async () => {
          await o.waitForControlPlane(120_000);
          await this.registerBeforeSidecar(key, ip, labels, ns);
          const { serviceAccount, proxyConfig, prometheusAnnotations, proxyOverrides } = inj;
          const cmd = await build({ pod: name, namespace: ns, ip, serviceAccount, discoveryAddress: place.discoveryAddress, podDir, labels, workload: plan.workload, proxyType: inj.waypoint ? 'waypoint' : inj.gateway ? 'router' : 'sidecar', proxyConfig, ...(prometheusAnnotations ? { prometheusAnnotations } : {}), ...(proxyOverrides ? { proxyOverrides } : {}) });
          // The sidecar (uid 1337) reads mizzen's code wherever the checkout lives.
          const reads = cmd.reads ?? cmd.argv.filter((a) => isAbsolute(a)).map((a) => dirname(a));
          return { ...cmd, reads: [...reads, dirname(dirname(r.cliEntry))] };
        }
      : undefined;
    if (inj.wanted && !build) o.log.warn({ pod: key }, 'pod would be injected but sidecars are off: running without a sidecar');
    const pod: PodInstance = new PodInstance({
      name,
      namespace: ns,
      owner: plan.owner,
      templateHash: hash,
      labels,
      annotations: inj.annotations,
      spec: inj.spec,
      serviceAccount: inj.serviceAccount,
      ip,
      netns: `${r.prefix}-${ns}.${name}`,
      hostVeth: `vp${++this.vethSeq}`,
      node: place.node,
      baseDir: plan.origin ? dirname(plan.origin) : process.cwd(),
      logDir: join(r.stateDir, 'logs'),
      baseEnv: r.baseEnv,
      nodeBinary: r.nodeBinary,
      sidecar,
      ...(sidecar && inj.proxyOverrides ? { proxyOverrides: inj.proxyOverrides } : {}),
      capture: !inj.gateway,
      dnsCapture: inj.inject && !inj.gateway && /^(1|t|true)$/i.test(proxyMetadata(inj.proxyConfig).ISTIO_META_DNS_CAPTURE ?? ''),
      hboneInbound: sidecar !== undefined && !inj.gateway && !inj.waypoint && sidecarEnablesHbone(inj.proxyConfig),
      pathViewStage,
      beforeContainers: () => o.ambient.beforeContainers(pod),
      clock: r.clock,
      backoff: r.backoff,
      log: o.log,
      onChange: () => o.scheduleRefresh(20),
    });
    o.pods.set(key, pod);
    try {
      await pod.start({ hosts: renderHosts(pod, o.podState.serviceNames(), 'cluster.local', corednsHosts(o.objects.list('ConfigMap'))), resolvConf: renderResolvConf(ns) }, o.podState.serviceRules());
    } catch (err) {
      o.log.error({ pod: key, err: (err as Error).message }, 'pod failed to start');
      await this.remove(pod);
      throw err;
    }
  }

  /** Stop a pod at once and forget it (its address, run directory, Pod object and published state). */
  async remove(pod: PodInstance): Promise<void> {
    const o = this.o;
    o.pods.delete(pod.key);
    await o.ambient.release(pod);
    await pod.stop().catch((err: Error) => o.log.warn({ pod: pod.key, err: err.message }, 'pod stop failed'));
    o.networks.release(pod.key);
    rmSync(podRunDir(o.runtime.prefix, pod.namespace, pod.name), { recursive: true, force: true });
    o.config.remove({ kind: 'Pod', group: '', metadata: { name: pod.name, namespace: pod.namespace } });
    o.podState.forget(pod.key);
  }

  /** The control plane knows a Service-selected pod before its sidecar asks for config (endpoint-registration.ts). */
  private async registerBeforeSidecar(key: string, ip: string, labels: Readonly<Record<string, string>>, ns: string): Promise<void> {
    const o = this.o;
    const pod = o.pods.get(key);
    if (!pod || !o.controlPlaneRuns() || !o.objects.serviceViews().some((s) => s.namespace === ns && selects(s.spec.selector, labels))) return;
    o.config.write(o.ambient.podObject(pod));
    const known = await waitForEndpointRegistration(join(o.runtime.stateDir, DISCOVERY_SOCKET), ip, { timeoutMs: 30_000 });
    if (!known) o.log.warn({ pod: key, ip }, 'the sidecar starts before discovery lists the pod as an endpoint (30 s): its first config may lack the inbound listeners');
  }
}
