import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ConfigResource } from '../api/config-resource.ts';
import { listConfigFiles } from '../control/config/read-config-files.ts';
import type { Clock } from '../lib/clock.ts';
import { MizzenError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { ContainerProblem } from './container-problems.ts';
import { CONTROL_SOCKET } from './control-client.ts';
import type { DashboardServer } from '../dashboard/dashboard-server.ts';
import { discoveryPodObject, PrometheusAddon, PROMETHEUS_PORT } from './addons/prometheus-addon.ts';
import { meshDashboard } from './mesh-dashboard.ts';
import { ControlServer, parseSubmitted, type SubmittedFile } from './control-server.ts';
import { INGRESS_GATEWAY, ingressGatewayManifests } from './ingress-gateway.ts';
import { MeshRuntime } from './mesh-runtime.ts';
import type { MeshRuntimeOptions, SidecarContext } from './mesh-runtime-options.ts';
import { netnsExecArgv } from './netns.ts';
import type { SidecarCommand } from './pod-instance.ts';
import { PortForwarder, type ExposeSpec } from './port-forwarder.ts';
import { currentProcessIdentity } from './process-identity.ts';
import { removeMeshLeftovers } from './runtime-state.ts';
import { claimStateDir, ownsStateDir, removeStateDir } from './state-claim.ts';
import { SupervisedProcess, type BackoffOptions } from './supervised-process.ts';
import { validateWorkloadResource } from './workload-validation.ts';

export interface LocalMeshOptions {
  stateDir: string;
  manifests: string;
  exposes: readonly ExposeSpec[];
  podCidr: string;
  serviceCidr: string;
  clock: Clock;
  log?: Logger;
  nodeBinary: string;
  cliEntry: string;
  controlPlane: boolean;
  /** Sidecar builder; undefined runs injected pods without a sidecar. */
  sidecar?: (ctx: SidecarContext, stateDir: string) => Promise<SidecarCommand>;
  /** Extra validation for Istio kinds (the control plane's validator), by field path. */
  validate?: (r: ConfigResource) => { path: string; message: string }[];
  /** Warnings about a resource that is still accepted (fields Mizzen does not implement), by field path. */
  warn?: (r: ConfigResource) => { path: string; message: string }[];
  backoff?: BackoffOptions;
  baseEnv: Record<string, string>;
  /** Also run Istio's default ingress gateway (istio-system/istio-ingressgateway). */
  ingressGateway?: boolean;
  /** Called when the mesh asks to stop (mizzen down). */
  onShutdownRequest?: () => void;
  /**
   * Called once, the first time the mesh is seen ready, before that status is answered to
   * anyone (so `up`'s "all pods are ready" is written before `up -d` returns).
   */
  onFirstReady?: () => void;
  /** Ambient mode: how the node's ztunnel gets its pod-bound token. */
  ambient?: MeshRuntimeOptions['ambient'];
  /** Addons run beside the mesh (`--addons prometheus`). */
  addons?: readonly Addon[];
  /** The dashboard's local port (`fallbackToAnyPort` when it is only the default); undefined: no dashboard. */
  dashboard?: { port: number; fallbackToAnyPort: boolean };
}

export const ADDONS = ['prometheus'] as const;
export type Addon = (typeof ADDONS)[number];

/** What GET /status answers: readiness, what is still awaited, failing containers and why. */
export interface MeshStatus {
  ready: boolean;
  waitingFor: string[];
  problems: ContainerProblem[];
  prefix: string;
  pid: number;
  /** `127.0.0.1:LOCAL -> ns/svc:port` per forwarded Service port. */
  exposes: string[];
  /** What this start removed of a crashed mesh that had run from the same state directory. */
  cleanedUp: string[];
  /** The dashboard's URL (`mizzen dashboard`). */
  dashboard?: string;
  /** Running addons' local URLs, by name. */
  addons?: Record<string, string>;
  /** The ingress gateway's local URLs (`mizzen up --ingress-gateway`). */
  ingress?: { http?: string; https?: string };
}

/** Read manifest files as the CLI submits them. */
export function readSubmittedFiles(paths: readonly string[]): { files: SubmittedFile[]; errors: string[] } {
  const { files, problems } = listConfigFiles(paths.map((p) => resolve(p)));
  const errors = problems.map((p) => `${p.file}: ${p.message}`);
  const out: SubmittedFile[] = [];
  for (const file of files) {
    try {
      out.push({ file, text: readFileSync(file, 'utf8') });
    } catch (err) {
      errors.push(`${file}: cannot read: ${(err as Error).message}`);
    }
  }
  return { files: out, errors };
}

/**
 * `mizzen up` in one object: state directory, the mesh runtime, the node agent (the way into
 * the node namespace for --expose), the control API, and the forwarders. start() returns once
 * everything is created (pods may still be getting ready); close() undoes all of it.
 */
export class LocalMesh {
  readonly options: LocalMeshOptions;
  readonly prefix: string;
  readonly runtime: MeshRuntime;
  private readonly log: Logger;
  private agent: SupervisedProcess | undefined;
  private control: ControlServer | undefined;
  private readonly forwarders: PortForwarder[] = [];
  private prometheus: PrometheusAddon | undefined;
  private prometheusForward: PortForwarder | undefined;
  private dashboard: DashboardServer | undefined;
  private dashboardPort: number | undefined;
  /** The Pod objects the runtime last pushed to the control plane. */
  private podObjects: readonly ConfigResource[] = [];
  private closing: Promise<void> | undefined;
  private announcedReady = false;
  /** The initial manifests are applied (until then the mesh is not ready). */
  private started = false;
  /** This mesh holds the state directory (start() claimed it). */
  private claimed = false;
  /** What start() removed of a crashed mesh that ran from the same state directory. */
  cleanedUp: string[] = [];

  constructor(options: LocalMeshOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger();
    this.prefix = `mz${randomBytes(3).toString('hex')}`;
    const validate = (r: ConfigResource): { path: string; message: string }[] => {
      const all = [...(options.validate?.(r) ?? []), ...validateWorkloadResource(r)];
      const seen = new Set<string>();
      return all.filter((i) => !seen.has(`${i.path}\0${i.message}`) && Boolean(seen.add(`${i.path}\0${i.message}`)));
    };
    this.runtime = new MeshRuntime({
      stateDir: options.stateDir,
      prefix: this.prefix,
      podCidr: options.podCidr,
      serviceCidr: options.serviceCidr,
      clock: options.clock,
      log: this.log,
      nodeBinary: options.nodeBinary,
      cliEntry: options.cliEntry,
      controlPlane: options.controlPlane,
      sidecar: options.sidecar ? (ctx) => options.sidecar!(ctx, options.stateDir) : undefined,
      backoff: options.backoff,
      baseEnv: options.baseEnv,
      validate,
      warn: options.warn,
      ...(options.ambient ? { ambient: options.ambient } : {}),
      onPodObjects: (pods) => {
        this.podObjects = pods;
        this.prometheus?.setPods(this.prometheusPods());
      },
    });
  }

  async start(): Promise<void> {
    const o = this.options;
    // Claim the state directory first: a mesh running from it makes this start fail with
    // nothing of it touched; a crashed one's leftovers are removed (and said so).
    const cleaned = await claimStateDir(o.stateDir, {
      prefix: this.prefix,
      pid: process.pid,
      startTime: currentProcessIdentity().startTime,
      podCidr: o.podCidr,
      serviceCidr: o.serviceCidr,
      startedAt: new Date(o.clock.now()).toISOString(),
      manifests: resolve(o.manifests),
      exposes: o.exposes.map((e) => `${e.namespace}/${e.service}:${e.port}=${e.localPort}`),
    });
    this.claimed = true;
    for (const line of cleaned) this.log.warn(line);
    this.cleanedUp = cleaned;
    for (const sub of ['config', 'pods', 'logs']) rmSync(join(o.stateDir, sub), { recursive: true, force: true });
    const { files, errors } = readSubmittedFiles([o.manifests]);
    const parsed = parseSubmitted(o.ingressGateway ? [ingressGatewayManifests(), ...files] : files);
    for (const w of [...parsed.warnings, ...this.runtime.warningsFor(parsed.resources)]) this.log.warn(w);
    const invalid = [...errors, ...parsed.errors, ...this.runtime.check(parsed.resources)];
    if (invalid.length > 0) {
      await this.close();
      throw new MizzenError('CONFIG_INVALID', invalid.join('\n'));
    }
    try {
      await this.runtime.start();
      this.startAgent();
      this.control = new ControlServer(join(o.stateDir, CONTROL_SOCKET), this.runtime, {
        status: () => this.status(),
        shutdown: () => o.onShutdownRequest?.(),
      });
      await this.control.listen();
      await this.startAddons();
      for (const spec of o.exposes) await this.forward(spec, false);
      // The ingress gateway's load balancer: 127.0.0.1:80/443 unless --expose already forwards those ports.
      if (o.ingressGateway) {
        const g = INGRESS_GATEWAY;
        for (const port of g.ports) {
          if (o.exposes.some((e) => e.namespace === g.namespace && e.service === g.service && e.port === port)) continue;
          await this.forward({ namespace: g.namespace, service: g.service, port, localPort: port }, true);
        }
      }
      const result = await this.runtime.apply(parsed.resources);
      if (!result.ok) throw new MizzenError('CONFIG_INVALID', result.errors.join('\n'));
      this.started = true;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** What Prometheus discovers: the pods, and discovery as istiod's pod when it runs. */
  private prometheusPods(): ConfigResource[] {
    return [...(this.options.controlPlane ? [discoveryPodObject(this.runtime.node.address)] : []), ...this.podObjects];
  }

  /** Prometheus (node namespace, forwarded to 127.0.0.1:9090 or a free port) and the dashboard. */
  private async startAddons(): Promise<void> {
    const o = this.options;
    if (o.addons?.includes('prometheus')) {
      const prometheus = new PrometheusAddon({ netns: this.runtime.node.netns, address: this.runtime.node.address, stateDir: o.stateDir, env: o.baseEnv, clock: o.clock, log: this.log, backoff: o.backoff });
      this.prometheus = prometheus;
      prometheus.start();
      prometheus.setPods(this.prometheusPods());
      const spec = { namespace: 'istio-system', service: 'prometheus', port: PROMETHEUS_PORT, localPort: PROMETHEUS_PORT };
      this.prometheusForward = new PortForwarder(spec, join(o.stateDir, 'node-agent.sock'), () => prometheus.address);
      await this.prometheusForward.start({ fallbackToAnyPort: true });
    }
    if (o.dashboard) {
      this.dashboard = meshDashboard({ runtime: this.runtime, stateDir: o.stateDir, meshName: this.prefix, podObjects: () => this.podObjects, log: this.log });
      this.dashboardPort = await this.dashboard.listen(o.dashboard.port, o.dashboard.fallbackToAnyPort);
    }
  }

  private async forward(spec: ExposeSpec, fallbackToAnyPort: boolean): Promise<void> {
    const fwd = new PortForwarder(spec, join(this.options.stateDir, 'node-agent.sock'), () => {
      const targets = this.runtime.views.serviceTargets(spec.namespace, spec.service, spec.port);
      return targets[Math.floor(Math.random() * targets.length)];
    });
    await fwd.start({ fallbackToAnyPort });
    this.forwarders.push(fwd);
    this.runtime.addExposure({ namespace: spec.namespace, service: spec.service, port: spec.port, localPort: fwd.boundPort });
  }

  private startAgent(): void {
    const o = this.options;
    const script = new URL('./node-agent-main.ts', import.meta.url).pathname;
    const argv = netnsExecArgv(this.runtime.node.netns, [o.nodeBinary, script, join(o.stateDir, 'node-agent.sock')]);
    this.agent = new SupervisedProcess(
      { name: 'node-agent', argv, env: o.baseEnv, cwd: o.stateDir, logFile: join(o.stateDir, 'logs', 'node-agent.log') },
      { clock: o.clock, backoff: o.backoff, log: this.log },
    );
    this.agent.start();
  }

  status(): MeshStatus {
    const r = this.started ? this.runtime.readiness() : { ready: false, waitingFor: ['the manifests to be applied'], problems: [] };
    const exposes = this.forwarders.map((f) => `127.0.0.1:${f.boundPort} -> ${f.spec.namespace}/${f.spec.service}:${f.spec.port}`);
    if (this.prometheus && !this.prometheus.isReady()) r.waitingFor.push('prometheus addon');
    const addonProblem = this.prometheus?.problem();
    if (addonProblem) r.problems.push(addonProblem);
    const ready = r.ready && r.waitingFor.length === 0;
    if (ready && !this.announcedReady) {
      this.announcedReady = true;
      this.options.onFirstReady?.();
    }
    const addons = this.prometheusForward ? { prometheus: `http://127.0.0.1:${this.prometheusForward.boundPort}` } : undefined;
    const dashboard = this.dashboardPort !== undefined ? `http://127.0.0.1:${this.dashboardPort}/` : undefined;
    const g = INGRESS_GATEWAY;
    const gateway = this.forwarders.filter((f) => f.spec.namespace === g.namespace && f.spec.service === g.service);
    const http = gateway.find((f) => f.spec.port === 80);
    const https = gateway.find((f) => f.spec.port === 443);
    const ingress = http || https ? { ...(http ? { http: `http://127.0.0.1:${http.boundPort}` } : {}), ...(https ? { https: `https://127.0.0.1:${https.boundPort}` } : {}) } : undefined;
    return { ...r, ready, prefix: this.prefix, pid: process.pid, exposes, cleanedUp: this.cleanedUp, ...(dashboard ? { dashboard } : {}), ...(addons ? { addons } : {}), ...(ingress ? { ingress } : {}) };
  }

  /**
   * Stop and remove everything, state files included (but a detached `up.log`). A mesh that
   * never claimed its state directory (another one runs from it) has nothing to remove.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.claimed) return;
      for (const f of this.forwarders) await f.close().catch(() => {});
      await this.dashboard?.close().catch(() => {});
      await this.prometheusForward?.close().catch(() => {});
      await this.prometheus?.stop().catch(() => {});
      await this.control?.close().catch(() => {});
      await this.runtime.close().catch((err: Error) => this.log.warn({ err: err.message }, 'runtime close failed'));
      await this.agent?.stop(2000);
      await removeMeshLeftovers(this.prefix, [this.options.podCidr, this.options.serviceCidr]).catch(() => []);
      // Keep only the detached-mode log (its reader may still need it); `mizzen down` removes the rest.
      if (ownsStateDir(this.options.stateDir, this.prefix)) removeStateDir(this.options.stateDir, ['up.log']);
    })();
    return this.closing;
  }
}
