import { rmSync } from 'node:fs';
import type { Clock } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import type { KubeObject } from '../lib/kube/reflector.ts';
import type { Logger } from '../lib/log.ts';
import { runHostCommand } from '../runtime/host-command.ts';
import { netnsExecArgv, runInNetns } from '../runtime/netns.ts';
import { pathViewArgv } from '../runtime/path-view.ts';
import { attachPodNetwork, detachPodNetwork, writeNetnsEtcFile, type NodeNetwork } from '../runtime/pod-network.ts';
import type { BackoffOptions, RestartPolicy } from '../runtime/supervised-process.ts';
import { resolveContainerCommand } from './container-command.ts';
import { containerEnv, EnvConfigError, expandEnv, type EnvContext } from './container-env.ts';
import { mountArgv, mountPathProblem } from './container-mounts.ts';
import { NodeContainer } from './node-container.ts';
import { buildPodStatus } from './pod-status.ts';
import { PodVolumes, VolumeError, type VolumeContext } from './pod-volumes.ts';

type Obj = Record<string, any>;

export interface NodePodOptions {
  object: KubeObject;
  nodeName: string;
  node: NodeNetwork;
  hostIp: string;
  ip: string;
  netns: string;
  hostVeth: string;
  /** Root-only directory of the pod (volumes). */
  dir: string;
  /** The pod's log directory (one subdirectory per container). */
  logDir: string;
  /** Root-only directory where mount and path-view scripts stage their mounts. */
  stage: string;
  nodeBinary: string;
  cliEntry: string;
  workdir: string;
  baseEnv: Record<string, string>;
  nodeCpu: number;
  nodeMemory: number;
  /** Services for service-link env vars. */
  services: () => readonly KubeObject[];
  volumes: Pick<VolumeContext, 'api' | 'configMap' | 'secret'>;
  /** Hosts file, resolv.conf and kube-proxy rules as they are now. */
  network: () => { hosts: string; resolvConf: string; serviceRules: string };
  /** Events the kubelet would record (Pulled, Created, Started, Failed, Killing, ...). */
  event: (type: 'Normal' | 'Warning', reason: string, message: string, container?: string) => void;
  clock: Clock;
  backoff?: BackoffOptions;
  log: Logger;
  onChange: () => void;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * One pod bound to this node, run as `mizzen up` runs a pod (a network namespace on the node's
 * bridge, its processes supervised) but driven by the Pod object: volumes, init containers in
 * order (native sidecars kept running), then containers with their command, args, env,
 * workingDir, user and volume mounts; readiness probes; the pod's status; graceful termination.
 */
export class NodePod {
  private readonly o: NodePodOptions;
  private current: KubeObject;
  private readonly log: Logger;
  private readonly volumes: PodVolumes;
  readonly initContainers: NodeContainer[];
  readonly containers: NodeContainer[];
  private readonly nativeSidecars: Set<string>;
  private sandboxReady = false;
  private initialized = false;
  private initFailed = false;
  private terminating: Promise<void> | undefined;
  private stopped = false;
  private readonly startTime: string;
  private appliedNetwork = '';
  private volumesReady = false;

  constructor(o: NodePodOptions) {
    this.o = o;
    this.current = o.object;
    this.log = o.log.child({ pod: this.key });
    this.startTime = iso(o.clock.now());
    const spec = this.spec;
    const policy = String(spec.restartPolicy ?? 'Always') as RestartPolicy;
    this.nativeSidecars = new Set(((spec.initContainers ?? []) as Obj[]).filter((c) => c.restartPolicy === 'Always').map((c) => String(c.name)));
    const make = (c: Obj, restartPolicy: RestartPolicy): NodeContainer =>
      new NodeContainer({
        podKey: this.key,
        podUid: this.uid,
        spec: c,
        podIp: o.ip,
        probe: { netns: o.node.netns, execNetns: o.netns, appUid: 0, appGid: 0, probeUid: 0, probeGid: 0 },
        restartPolicy,
        logDir: `${o.logDir}/${c.name}`,
        clock: o.clock,
        backoff: o.backoff,
        log: this.log,
        onChange: o.onChange,
      });
    this.initContainers = ((spec.initContainers ?? []) as Obj[]).map((c) => make(c, this.nativeSidecars.has(c.name) ? 'Always' : policy === 'Never' ? 'Never' : 'OnFailure'));
    this.containers = ((spec.containers ?? []) as Obj[]).map((c) => make(c, policy));
    for (const c of this.containers) c.wait(this.initContainers.length > 0 ? 'PodInitializing' : 'ContainerCreating');
    this.volumes = new PodVolumes({
      ...o.volumes,
      pod: () => this.current,
      dir: `${o.dir}/volumes`,
      nodeName: o.nodeName,
      hostIp: o.hostIp,
      podIp: o.ip,
      nodeCpu: o.nodeCpu,
      nodeMemory: o.nodeMemory,
      log: this.log,
    });
  }

  get object(): KubeObject {
    return this.current;
  }

  private get spec(): Obj {
    return (this.current as Obj).spec ?? {};
  }

  get key(): string {
    return `${this.current.metadata?.namespace}/${this.current.metadata?.name}`;
  }

  get uid(): string {
    return String(this.current.metadata?.uid ?? '');
  }

  get ip(): string {
    return this.o.ip;
  }

  get netns(): string {
    return this.o.netns;
  }

  get isTerminating(): boolean {
    return this.terminating !== undefined;
  }

  /** A newer version of the Pod object (labels, annotations for the downward API). */
  update(object: KubeObject): void {
    const labelsChanged = JSON.stringify(object.metadata?.labels ?? {}) + JSON.stringify(object.metadata?.annotations ?? {}) !== JSON.stringify(this.current.metadata?.labels ?? {}) + JSON.stringify(this.current.metadata?.annotations ?? {});
    this.current = object;
    if (labelsChanged && this.volumesReady) void this.volumes.refresh();
  }

  /** Sandbox, volumes, init containers, containers. Failures are reported in the status. */
  async start(): Promise<void> {
    const o = this.o;
    await attachPodNetwork(o.node, { netns: o.netns, hostVeth: o.hostVeth, address: o.ip });
    await this.syncNetwork();
    await writeNetnsEtcFile(o.netns, 'hostname', `${this.spec.hostname ?? this.current.metadata?.name}\n`);
    this.sandboxReady = true;
    o.onChange();
    while (!this.volumesReady && !this.terminating) {
      try {
        await this.volumes.prepare();
        this.volumesReady = true;
      } catch (err) {
        const message = `MountVolume.SetUp failed: ${errorMessage(err)}`;
        this.o.event('Warning', 'FailedMount', message);
        for (const c of [...this.initContainers, ...this.containers]) c.wait('ContainerCreating', message);
        if (!(err instanceof VolumeError)) this.log.warn({ err: errorMessage(err) }, 'volumes not ready');
        await this.sleep(5000);
      }
    }
    for (const c of this.initContainers) {
      if (this.terminating) return;
      if (!(await this.run(c))) return;
      if (this.nativeSidecars.has(c.name)) {
        await this.until(() => c.isRunning() && (c.spec.startupProbe || c.spec.readinessProbe ? c.isReady() : true));
        continue;
      }
      const code = await this.until(() => c.finished());
      if (code === undefined) return;
      if (code !== 0) {
        this.initFailed = true;
        this.o.onChange();
        return;
      }
    }
    this.initialized = true;
    this.o.onChange();
    await Promise.all(this.containers.map((c) => this.run(c)));
  }

  /** Start a container once its command resolves (retried every few seconds); false when terminating. */
  private async run(c: NodeContainer): Promise<boolean> {
    let reported = '';
    while (!this.terminating) {
      const problem = await this.launch(c).catch((err: Error) => ({ reason: 'RunContainerError', message: errorMessage(err) }));
      if (!problem) return true;
      c.wait(problem.reason, problem.message);
      if (reported !== problem.reason + problem.message) {
        reported = problem.reason + problem.message;
        this.o.event('Warning', 'Failed', `Error: ${problem.reason}: ${problem.message}`, c.name);
      }
      await this.sleep(5000);
    }
    return false;
  }

  /** Resolve and start one container; a waiting reason when it cannot start. */
  private async launch(c: NodeContainer): Promise<{ reason: string; message: string } | undefined> {
    const o = this.o;
    const envCtx: EnvContext = {
      pod: this.current,
      nodeName: o.nodeName,
      hostIp: o.hostIp,
      podIp: o.ip,
      base: o.baseEnv,
      services: o.services(),
      nodeCpu: o.nodeCpu,
      nodeMemory: o.nodeMemory,
      configMap: (name) => o.volumes.configMap(name),
      secret: (name) => o.volumes.secret(name),
    };
    let env: Record<string, string>;
    try {
      env = await containerEnv(c.spec, envCtx);
    } catch (err) {
      if (err instanceof EnvConfigError) return { reason: 'CreateContainerConfigError', message: err.message };
      throw err;
    }
    // `$(VAR)` in command and args expands from the container's environment, as the kubelet does.
    const expand = (list: unknown): string[] | undefined => (Array.isArray(list) ? list.map((x) => expandEnv(String(x), env)) : undefined);
    const cmd = resolveContainerCommand({ ...c.spec, command: expand(c.spec.command), args: expand(c.spec.args) }, { nodeBinary: o.nodeBinary, cliEntry: o.cliEntry, workdir: o.workdir, path: env.PATH ?? '' });
    if ('waiting' in cmd) return cmd.waiting;
    let mounts;
    try {
      mounts = this.volumes.mountsFor(c.spec);
    } catch (err) {
      return { reason: 'CreateContainerConfigError', message: errorMessage(err) };
    }
    for (const m of mounts) {
      const p = mountPathProblem(m.target);
      if (p) return { reason: 'CreateContainerError', message: p };
    }
    const sc = { ...(this.spec.securityContext ?? {}), ...(c.spec.securityContext ?? {}) } as Obj;
    const uid = Number(sc.runAsUser ?? 0);
    const gid = Number(sc.runAsGroup ?? (sc.runAsUser !== undefined ? sc.runAsUser : 0));
    const groups = [...new Set([...(this.spec.securityContext?.fsGroup !== undefined ? [Number(this.spec.securityContext.fsGroup)] : []), ...((this.spec.securityContext?.supplementalGroups ?? []) as number[])])];
    const user = uid === 0 && gid === 0 && groups.length === 0 ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, ...(groups.length > 0 ? [`--groups=${groups.join(',')}`] : ['--clear-groups']), '--'];
    const view = uid === 0 && gid === 0 ? [] : pathViewArgv(cmd.reads, { uid, gid }, o.stage);
    const argv = netnsExecArgv(o.netns, [...mountArgv(mounts, o.stage, o.netns), ...view, ...user, ...cmd.argv]);
    this.o.event('Normal', 'Pulled', `Container image "${c.spec.image ?? ''}" already present on machine`, c.name);
    c.start({ argv, env, cwd: cmd.cwd }, user);
    this.o.event('Normal', 'Created', `Created container: ${c.name}`, c.name);
    this.o.event('Normal', 'Started', `Started container ${c.name}`, c.name);
    return undefined;
  }

  /** Push the node's current hosts file, resolv.conf and Service rules into the pod (when changed). */
  async syncNetwork(): Promise<void> {
    if (this.stopped) return;
    const n = this.o.network();
    const key = `${n.hosts}\n${n.resolvConf}\n${n.serviceRules}`;
    if (key === this.appliedNetwork) return;
    const hosts = n.hosts + ((this.spec.hostAliases ?? []) as Obj[]).map((h) => `${h.ip}\t${(h.hostnames ?? []).join(' ')}\n`).join('');
    await writeNetnsEtcFile(this.o.netns, 'hosts', hosts);
    await writeNetnsEtcFile(this.o.netns, 'resolv.conf', n.resolvConf);
    await runInNetns(this.o.netns, 'nft', ['-f', '-'], { input: n.serviceRules });
    this.appliedNetwork = key;
  }

  /** Volumes refresh (ConfigMaps, tokens), called periodically by the node. */
  async resync(): Promise<void> {
    if (this.volumesReady && !this.terminating) await this.volumes.refresh();
  }

  /**
   * Graceful termination: preStop hooks, SIGTERM to every container, SIGKILL when the grace
   * period is over (containers first, then native sidecars in reverse order), then the sandbox.
   */
  terminate(graceMs: number): Promise<void> {
    this.terminating ??= (async () => {
      this.o.onChange();
      const deadline = Date.now() + graceMs;
      await Promise.all(this.containers.filter((c) => c.isRunning()).map((c) => this.preStop(c, deadline)));
      const left = (): number => Math.max(2000, deadline - Date.now());
      const running = this.containers.filter((c) => c.started);
      for (const c of running) this.o.event('Normal', 'Killing', `Stopping container ${c.name}`, c.name);
      await Promise.all(running.map((c) => c.stop(left())));
      for (const c of [...this.initContainers].reverse()) await c.stop(left());
      this.stopped = true;
      await detachPodNetwork({ netns: this.o.netns }).catch((err: Error) => this.log.warn({ err: err.message }, 'removing the pod network failed'));
      rmSync(this.o.dir, { recursive: true, force: true });
      this.o.onChange();
    })();
    return this.terminating;
  }

  /** Everything stopped and removed (after terminate()). */
  get isStopped(): boolean {
    return this.stopped;
  }

  private async preStop(c: NodeContainer, deadline: number): Promise<void> {
    const hook = c.spec.lifecycle?.preStop;
    if (!hook?.exec?.command && !hook?.sleep) return;
    const budget = Math.max(0, deadline - Date.now());
    if (hook.sleep) {
      await new Promise((r) => setTimeout(r, Math.min(budget, Number(hook.sleep.seconds ?? 0) * 1000)));
      return;
    }
    const argv = netnsExecArgv(this.o.netns, ['timeout', String(Math.max(1, Math.floor(budget / 1000))), ...(hook.exec.command as string[])]);
    const r = await runHostCommand(argv[0], argv.slice(1), { allowFailure: true });
    if (r.code !== 0) this.o.event('Warning', 'FailedPreStopHook', `PreStopHook failed: exit code ${r.code}`, c.name);
  }

  /** The pod's status as the kubelet reports it. */
  status(): Obj {
    return buildPodStatus({
      previous: (this.current as Obj).status,
      sandboxReady: this.sandboxReady && !this.stopped,
      initContainers: this.initContainers.map((c) => c.status()),
      containers: this.containers.map((c) => c.status()),
      initialized: this.initialized,
      initFailed: this.initFailed,
      restartPolicy: String(this.spec.restartPolicy ?? 'Always'),
      terminating: this.terminating !== undefined,
      podIp: this.o.ip,
      hostIp: this.o.hostIp,
      startTime: this.startTime,
      nativeSidecars: this.nativeSidecars,
      now: iso(this.o.clock.now()),
    });
  }

  /** Every container (init first), for logs and exec. */
  container(name: string | undefined): NodeContainer | undefined {
    const all = [...this.containers, ...this.initContainers];
    return name ? all.find((c) => c.name === name) : all[0];
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = this.o.clock.setTimer(() => r(), ms);
      void this.terminating?.then(() => {
        t.cancel();
        r();
      });
    });
  }

  /** Wait (checking on each change, at least every 200 ms) until `check` gives a value; undefined when terminating. */
  private async until<T>(check: () => T | undefined | false): Promise<T | undefined> {
    for (;;) {
      if (this.terminating) return undefined;
      const v = check();
      if (v !== undefined && v !== false) return v;
      await this.sleep(200);
    }
  }
}
