import { sampleCommand } from './sample-images.ts';
import { containerEnv } from './container-env.ts';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Container, PodSpec } from '../api/kube/pod.ts';
import type { Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { captureOptionsFromAnnotations, PROXY_GID, PROXY_UID, renderCaptureRules } from './capture-rules.ts';
import { runInNetns, asUserArgv, netnsExecArgv } from './netns.ts';
import { pathViewArgv } from './path-view.ts';
import { attachPodNetwork, detachPodNetwork, writeNetnsEtcFile, type NodeNetwork } from './pod-network.ts';
import { probeTiming, readinessCheck, ReadinessProber, type ProbeCheck } from './readiness-probe.ts';
import { SupervisedProcess, type BackoffOptions, type ProcessStatus, type RestartPolicy } from './supervised-process.ts';

/** How to run the sidecar of an injected pod (argv run as 1337 inside the pod's namespace). */
export interface SidecarCommand {
  argv: string[];
  env: Record<string, string>;
  /** Readiness of the proxy (Istio: :15021/healthz/ready). */
  ready: ProbeCheck;
  /**
   * Paths the sidecar reads (its code, the node binary): made reachable for uid 1337 even when a
   * directory above them is closed to it (path-view.ts). Default: the directories of argv's
   * absolute paths.
   */
  reads?: string[];
}

export interface PodInstanceOptions {
  name: string;
  namespace: string;
  /** `namespace/name` of the owning Deployment, if any. */
  owner: string | undefined;
  templateHash: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PodSpec;
  serviceAccount: string;
  ip: string;
  netns: string;
  hostVeth: string;
  node: NodeNetwork;
  /** Directory the manifest came from: relative paths in commands and workingDir start here. */
  baseDir: string;
  logDir: string;
  /** Environment every container starts from (PATH, HOME, ...). */
  baseEnv: Record<string, string>;
  /** The node binary that replaces a container command `node` (Node 24 runs the .ts apps). */
  nodeBinary: string;
  /** Builds the sidecar command (may wait for the control plane); undefined: no sidecar. */
  sidecar: (() => Promise<SidecarCommand>) | undefined;
  /** The pod's own `istio-proxy` container (a gateway's placeholder), merged over the injected proxy in the Pod object. */
  proxyOverrides?: Container;
  /** The sidecar proxies DNS (ProxyConfig ISTIO_META_DNS_CAPTURE): port 53 is redirected to its 15053. */
  dnsCapture?: boolean;
  /** Install the capture rules with the sidecar (not for gateways). */
  capture?: boolean;
  /** The sidecar accepts HBONE on 15008 (`ISTIO_META_ENABLE_HBONE=true`): the pod is labelled `networking.istio.io/tunnel: http`. */
  hboneInbound?: boolean;
  /** Root-only directory for building path views (see path-view.ts). */
  pathViewStage: string;
  /**
   * Runs once the pod's network exists and before any container starts (ambient enrollment:
   * like Istio's CNI plugin, the pod's processes start only once ztunnel has taken the pod).
   */
  beforeContainers?: () => Promise<void>;
  clock: Clock;
  backoff?: BackoffOptions;
  log?: Logger;
  onChange: () => void;
}

export interface ContainerStatusView {
  name: string;
  ready: boolean;
  /** Has been ready at least once since the pod started (a crash loop at start has not). */
  everReady: boolean;
  status: ProcessStatus;
}

export interface PodStatusView {
  name: string;
  namespace: string;
  owner: string | undefined;
  ip: string;
  netns: string;
  phase: string;
  ready: boolean;
  readyCount: number;
  containerCount: number;
  restarts: number;
  sidecar: boolean;
  createdAt: number;
  labels: Record<string, string>;
  serviceAccount: string;
  appUid: number;
  appGid: number;
  containers: ContainerStatusView[];
}

interface Running {
  name: string;
  process: SupervisedProcess;
  prober: ReadinessProber;
  everReady: boolean;
}

/**
 * One pod of the local mesh: its network namespace and veth, its /etc/netns files, capture
 * rules when injected, the supervised container processes (plus the sidecar), and readiness.
 */
export class PodInstance {
  readonly options: PodInstanceOptions;
  readonly createdAt: number;
  private readonly log: Logger;
  private running: Running[] = [];
  private started = false;
  private stopped = false;
  private terminating = false;

  constructor(options: PodInstanceOptions) {
    this.options = options;
    this.createdAt = options.clock.now();
    this.log = (options.log ?? silentLogger()).child({ pod: `${options.namespace}/${options.name}` });
  }

  get name(): string {
    return this.options.name;
  }

  get namespace(): string {
    return this.options.namespace;
  }

  get ip(): string {
    return this.options.ip;
  }

  /** start() has set up the pod's network (it can be enrolled or released). */
  isStarted(): boolean {
    return this.started && !this.stopped;
  }

  get key(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }

  /** `kubectl label pod`: a running pod's labels change in place (Services, ambient enrollment and the Pod object follow; the processes keep running). */
  setLabels(labels: Record<string, string>): void {
    this.options.labels = { ...labels };
  }

  get appUser(): { uid: number; gid: number } {
    const sc = this.options.spec.containers?.[0]?.securityContext;
    const uid = sc?.runAsUser ?? 0;
    return { uid, gid: sc?.runAsGroup ?? uid };
  }

  /** Create the network and start the processes (the sidecar first, as Istio's holdApplicationUntilProxyStarts would). */
  async start(etc: { hosts: string; resolvConf: string }, serviceRules: string): Promise<void> {
    const o = this.options;
    this.started = true;
    await attachPodNetwork(o.node, { netns: o.netns, hostVeth: o.hostVeth, address: o.ip });
    await writeNetnsEtcFile(o.netns, 'hosts', etc.hosts);
    await writeNetnsEtcFile(o.netns, 'resolv.conf', etc.resolvConf);
    await writeNetnsEtcFile(o.netns, 'hostname', `${o.name}\n`);
    await this.applyServiceRules(serviceRules);
    if (o.sidecar && o.capture !== false) await runInNetns(o.netns, 'nft', ['-f', '-'], { input: renderCaptureRules({ ...captureOptionsFromAnnotations(o.annotations), excludeInboundSources: [o.node.address], redirectDns: o.dnsCapture === true }) });
    // a gateway pod's proxy (uid 1337) binds its listeners' ports, 80 included (Istio's gateway template sets this sysctl)
    if (o.sidecar && o.capture === false) await runInNetns(o.netns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_unprivileged_port_start=0']);
    if (o.beforeContainers) await o.beforeContainers();
    const sidecar = o.sidecar ? await o.sidecar() : undefined;
    if (this.stopped) return;
    if (sidecar) this.running.push(this.launch('istio-proxy', sidecar.argv, sidecar.env, PROXY_UID, PROXY_GID, '/', sidecar.ready, undefined, 'Always', sidecar.reads));
    for (const c of o.spec.containers ?? []) {
      const { uid, gid } = { uid: c.securityContext?.runAsUser ?? this.appUser.uid, gid: c.securityContext?.runAsGroup ?? c.securityContext?.runAsUser ?? this.appUser.gid };
      const sample = sampleCommand(c.image, c.command ?? [], c.args ?? [], o.baseEnv);
      const argv = this.containerArgv(sample?.argv ?? [...(c.command ?? []), ...(c.args ?? [])], c.name);
      const cwd = c.workingDir ? (isAbsolute(c.workingDir) ? c.workingDir : resolve(o.baseDir, c.workingDir)) : o.baseDir;
      this.running.push(this.launch(c.name, argv, this.containerEnv(c), uid, gid, cwd, readinessCheck(c, o.ip), c, o.spec.restartPolicy ?? 'Always', sample ? [cwd, ...sample.reads] : undefined));
    }
  }

  /** Replace the pod's Service DNAT table (kube-proxy's job). */
  async applyServiceRules(rules: string): Promise<void> {
    await runInNetns(this.options.netns, 'nft', ['-f', '-'], { input: rules });
  }

  async updateEtc(etc: { hosts: string }): Promise<void> {
    await writeNetnsEtcFile(this.options.netns, 'hosts', etc.hosts);
  }

  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    for (const r of this.running) r.prober.stop();
    // Apps first, then the sidecar (Istio drains the proxy after the app).
    const apps = this.running.filter((r) => r.name !== 'istio-proxy' || !this.options.sidecar);
    const side = this.running.filter((r) => r.name === 'istio-proxy' && this.options.sidecar);
    await Promise.all(apps.map((r) => r.process.stop(graceMs)));
    await Promise.all(side.map((r) => r.process.stop(graceMs)));
    if (this.started) await detachPodNetwork({ netns: this.options.netns });
  }

  /**
   * The pod is being deleted: not ready from now on (out of Service endpoints), shown as
   * Terminating, its processes still running until stop().
   */
  beginTermination(): void {
    this.terminating = true;
    this.options.onChange();
  }

  get isTerminating(): boolean {
    return this.terminating || this.stopped;
  }

  isReady(): boolean {
    return !this.terminating && this.running.length > 0 && this.running.every((r) => r.prober.isReady() && r.process.isRunning());
  }

  status(): PodStatusView {
    const containers = this.running.map((r) => ({ name: r.name, ready: r.prober.isReady() && r.process.isRunning(), everReady: r.everReady, status: r.process.status() }));
    const waiting = containers.find((c) => c.status.phase !== 'Running');
    let phase = 'Running';
    if (this.stopped || this.terminating) phase = 'Terminating';
    else if (containers.length === 0) phase = 'ContainerCreating';
    else if (waiting) phase = waiting.status.phase;
    const { uid, gid } = this.appUser;
    return {
      name: this.options.name,
      namespace: this.options.namespace,
      owner: this.options.owner,
      ip: this.options.ip,
      netns: this.options.netns,
      phase,
      ready: this.isReady(),
      readyCount: containers.filter((c) => c.ready).length,
      containerCount: containers.length || (this.options.spec.containers?.length ?? 0) + (this.options.sidecar ? 1 : 0),
      restarts: containers.reduce((n, c) => n + c.status.restarts, 0),
      sidecar: this.options.sidecar !== undefined,
      createdAt: this.createdAt,
      labels: this.options.labels,
      serviceAccount: this.options.serviceAccount,
      appUid: uid,
      appGid: gid,
      containers,
    };
  }

  logFile(container: string): string {
    return join(this.options.logDir, `${this.options.namespace}_${this.options.name}_${container}.log`);
  }

  containerNames(): string[] {
    return this.running.map((r) => r.name);
  }

  /** A container's argv (`command` + `args`, or what sample-images.ts runs for a known image). */
  private containerArgv(given: string[], name: string): string[] {
    const argv = [...given];
    if (argv.length === 0) return ['sh', '-c', `echo "container ${name} has no command (images are not run by mizzen up; known sample images: see src/runtime/sample-images.ts)" >&2; exit 1`];
    if (argv[0] === 'node') argv[0] = this.options.nodeBinary;
    return argv;
  }

  private containerEnv(c: Container): Record<string, string> {
    const o = this.options;
    return containerEnv(c.env, { ...o.baseEnv, HOSTNAME: o.name }, { name: o.name, namespace: o.namespace, ip: o.ip, serviceAccount: o.serviceAccount });
  }

  private launch(name: string, argv: string[], env: Record<string, string>, uid: number, gid: number, cwd: string, check: ProbeCheck, c: Container | undefined, restartPolicy: RestartPolicy, reads?: string[]): Running {
    const o = this.options;
    // As another user, the command must reach its files wherever they live (a 0700 parent):
    // the sidecar its code, an app its working directory and the files its argv names.
    const needs = reads ?? [cwd, ...argv.filter((a) => isAbsolute(a)).map((a) => dirname(a))];
    const view = uid === 0 && gid === 0 ? [] : pathViewArgv(needs, { uid, gid }, o.pathViewStage);
    const full = netnsExecArgv(o.netns, [...view, ...asUserArgv(uid, gid, argv)]);
    const prober = new ReadinessProber(
      check,
      { netns: o.node.netns, execNetns: o.netns, appUid: uid, appGid: gid, probeUid: 0, probeGid: 0 },
      probeTiming(c?.readinessProbe),
      o.clock,
      (ready) => {
        if (ready) running.everReady = true;
        o.onChange();
      },
    );
    const process = new SupervisedProcess(
      { name: `${this.key}/${name}`, argv: full, env, cwd, logFile: this.logFile(name) },
      {
        clock: o.clock,
        restartPolicy,
        backoff: o.backoff,
        log: this.log,
        onChange: () => {
          if (process.isRunning()) {
            if (!wasRunning) prober.restart();
          } else prober.pause();
          wasRunning = process.isRunning();
          o.onChange();
        },
      },
    );
    let wasRunning = false;
    const running: Running = { name, process, prober, everReady: false };
    process.start();
    return running;
  }
}
