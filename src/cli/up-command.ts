import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../control/ca/service-account-token.ts';
import { submittedValidator } from '../control/config/support/served-validator.ts';
import { ResourceValidator } from '../control/config/validation/validate-resource.ts';
import { systemClock } from '../lib/clock.ts';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { createLogFactory } from '../lib/log.ts';
import { ControlClient } from '../runtime/control-client.ts';
import { describeProblem, problemHint, unseenProblems } from '../runtime/container-problems.ts';
import { ADDONS, LocalMesh, type Addon, type MeshStatus } from '../runtime/local-mesh.ts';
import { findPrometheus } from '../runtime/addons/prometheus-addon.ts';
import { parseExpose } from '../runtime/port-forwarder.ts';
import { baseProcessEnv, DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR, requireHostTools, requireRootLinux, stateDirFrom } from '../runtime/runtime-config.ts';
import { readMeshState } from '../runtime/runtime-state.ts';
import { prepareSidecar } from '../runtime/sidecar-command.ts';
import { alreadyRunningError, meshRunning } from '../runtime/state-claim.ts';
import { refreshStripCache } from './strip-cache-refresh.ts';
import type { CliContext } from './cli-context.ts';
import { upKube } from './up-kube.ts';

interface UpFlags {
  detach?: boolean;
  expose: string[];
  stateDir?: string;
  podCidr: string;
  serviceCidr: string;
  sidecars: string;
  controlPlane: boolean;
  timeout?: string;
  kube?: boolean;
  kubeconfig?: string;
  ingressGateway?: boolean;
  addons: string[];
  dashboardPort: string;
  ztunnelBinary?: string;
}

/** Kiali's port: where the dashboard listens unless told otherwise (a free one when it is taken). */
const DEFAULT_DASHBOARD_PORT = 20001;

const collect = (v: string, acc: string[]): string[] => [...acc, v];
const CLI_ENTRY = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));

/** Parsed once, frozen: what `mizzen up` runs with (flags + MIZZEN_LOG). */
function upConfig(dir: string, flags: UpFlags, ctx: CliContext) {
  const exposes = flags.expose.map(parseExpose);
  const sidecarsAvailable = existsSync(fileURLToPath(new URL('./proxy-command.ts', import.meta.url)));
  const discoveryAvailable = existsSync(fileURLToPath(new URL('./discovery-command.ts', import.meta.url)));
  if (!['auto', 'on', 'off'].includes(flags.sidecars)) throw new MizzenError('USAGE', `--sidecars must be auto, on or off (got ${flags.sidecars})`);
  const timeout = flags.timeout ?? (flags.kube ? '600s' : '120s');
  const timeoutSeconds = Number(timeout.replace(/s$/, ''));
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new MizzenError('USAGE', `--timeout must be seconds, e.g. 120s (got ${timeout})`);
  if (flags.kube) {
    if (flags.addons.length > 0) throw new MizzenError('USAGE', '--addons: not available with --kube yet', { hint: 'the addons run beside file-mode meshes only; on Kubernetes, kubectl apply Istio\'s samples/addons' });
  } else if (flags.kubeconfig) throw new MizzenError('USAGE', '--kubeconfig goes with --kube');
  const env = baseProcessEnv(ctx.env);
  env.PATH = `${dirname(process.execPath)}:${env.PATH}`;
  const addons = flags.addons.flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean);
  for (const a of addons) if (!(ADDONS as readonly string[]).includes(a)) throw new MizzenError('USAGE', `--addons ${a}: unknown addon (known: ${ADDONS.join(', ')})`);
  if (addons.includes('prometheus') && !findPrometheus(env.PATH)) {
    throw new MizzenError('USAGE', 'the prometheus addon needs Prometheus, which is not installed', { hint: 'apt-get install prometheus (Debian/Ubuntu), or put a prometheus binary on PATH' });
  }
  const istioZtunnel = flags.ztunnelBinary ? resolve(ctx.cwd, flags.ztunnelBinary) : undefined;
  if (istioZtunnel && !existsSync(istioZtunnel)) throw new MizzenError('USAGE', `--ztunnel-binary ${flags.ztunnelBinary}: no such file`, { hint: 'build Istio\'s ztunnel with scripts/ztunnel.sh SRC_DIR (it lands in /var/cache/mizzen/ztunnel/ztunnel)' });
  const dashboardPort = flags.dashboardPort === 'none' ? undefined : Number(flags.dashboardPort);
  if (dashboardPort !== undefined && (!Number.isInteger(dashboardPort) || dashboardPort < 0 || dashboardPort > 65535)) throw new MizzenError('USAGE', `--dashboard-port must be a port, 0 (any) or none (got ${flags.dashboardPort})`);
  return Object.freeze({
    dir: resolve(ctx.cwd, dir),
    stateDir: stateDirFrom(flags.stateDir, ctx.cwd),
    exposes,
    podCidr: flags.podCidr,
    serviceCidr: flags.serviceCidr,
    sidecars: flags.sidecars === 'on' || (flags.sidecars === 'auto' && sidecarsAvailable && discoveryAvailable),
    controlPlane: flags.controlPlane && discoveryAvailable,
    timeoutMs: timeoutSeconds * 1000,
    ingressGateway: flags.ingressGateway === true,
    addons: addons as Addon[],
    dashboard: dashboardPort === undefined ? undefined : { port: dashboardPort, fallbackToAnyPort: flags.dashboardPort === String(DEFAULT_DASHBOARD_PORT) },
    logLevels: ctx.env.MIZZEN_LOG,
    env,
    istioZtunnel,
  });
}

type UpConfig = ReturnType<typeof upConfig>;

/** `mizzen up`: run a whole mesh from a directory of manifests on this machine. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('run a mesh on this machine from Kubernetes-style manifests and Istio config (needs root and Linux)')
    .argument('<dir>', 'file or directory of manifests (*.yaml, *.yml, *.json)')
    .option('-d, --detach', 'run in the background and return once every pod is ready')
    .option('--expose <ns/svc:port=localport>', 'forward 127.0.0.1:LOCALPORT to a service (repeatable)', collect, [])
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .option('--pod-cidr <cidr>', 'pod addresses', DEFAULT_POD_CIDR)
    .option('--service-cidr <cidr>', 'service VIPs', DEFAULT_SERVICE_CIDR)
    .option('--sidecars <mode>', 'auto | on | off: run sidecars in injected pods (auto: when the proxy is available)', 'auto')
    .option('--no-control-plane', 'do not run mizzen discovery')
    .option('--ingress-gateway', "also run Istio's default ingress gateway (istio-system/istio-ingressgateway, ports 80/443)")
    .option('--timeout <seconds>', 'with -d: how long to wait for readiness (default 120s; 600s with --kube)')
    .option('--kube', 'the kubectl flow: start a local Kubernetes control plane (scripts/kube-cluster.sh), mizzen install, one mizzen node, kubectl apply DIR; kubeconfig in STATE_DIR/kubeconfig')
    .option('--kubeconfig <file>', 'with --kube: use this cluster instead of starting one')
    .option('--addons <names>', `run addons beside the mesh (comma-separated: ${ADDONS.join(', ')})`, collect, [])
    .option('--ztunnel-binary <path>', "ambient mode with Istio's own ztunnel (the Rust binary scripts/ztunnel.sh builds) as the node's ztunnel instead of mizzen's (interop)")
    .option('--dashboard-port <port>', `the dashboard's local port (\`mizzen dashboard\`); 0: any free port, none: no dashboard (default ${DEFAULT_DASHBOARD_PORT}, or a free port when it is taken)`, String(DEFAULT_DASHBOARD_PORT))
    .action(async (dir: string, flags: UpFlags) => {
      try {
        requireRootLinux('up');
        requireHostTools(ctx.env.PATH ? `${ctx.env.PATH}:/usr/sbin:/sbin` : undefined, existsSync);
        const config = upConfig(dir, flags, ctx);
        if (!existsSync(config.dir)) throw new MizzenError('USAGE', `${dir}: no such file or directory`);
        if (flags.kube) {
          const kubeconfig = flags.kubeconfig ? resolve(ctx.cwd, flags.kubeconfig) : undefined;
          await upKube({ dir: config.dir, stateDir: config.stateDir, ...(kubeconfig ? { kubeconfig } : {}), clusterCidr: config.podCidr, timeoutMs: config.timeoutMs, detach: flags.detach === true, cliEntry: CLI_ENTRY, exposes: config.exposes, ingressGateway: flags.ingressGateway === true }, ctx);
          return;
        }
        if (flags.detach) await detached(config, ctx);
        else await foreground(config, ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}

/** The forwarded ports and the ingress gateway's URL (what to curl). */
function printAccess(status: MeshStatus, ctx: CliContext): void {
  for (const e of status.exposes) ctx.stdout(`  ${e}   e.g. curl http://${e.split(' ')[0]}/\n`);
  const g = status.ingress;
  if (g?.http) {
    ctx.stdout(`ingress gateway: ${g.http}${g.https ? ` (TLS: ${g.https})` : ''}; e.g. export GATEWAY_URL=${g.http.replace('http://', '')}\n`);
  }
}

async function foreground(config: UpConfig, ctx: CliContext): Promise<void> {
  // The terminal gets human lines (and warnings); the JSON log goes to STATE/mesh.log (removed with the mesh).
  const logs = createLogFactory({ levels: config.logLevels, destination: join(config.stateDir, 'mesh.log'), humanWarnings: (line) => ctx.stderr(`${line}\n`) });
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const caDir = join(config.stateDir, 'ca');
  // sidecars, gateways and ztunnel run as 1337 and cannot update the cache themselves
  const failed = refreshStripCache(CLI_ENTRY);
  if (failed) logs.component('runtime').warn({ err: failed }, 'could not refresh the type-stripped code cache: proxies will strip TypeScript at start (more memory each)');
  const resourceValidator = new ResourceValidator();
  const validator = submittedValidator((r) => resourceValidator.validate(r));
  const mesh = new LocalMesh({
    validate: (r) => validator(r).errors,
    warn: (r) => validator(r).warnings,
    stateDir: config.stateDir,
    manifests: config.dir,
    exposes: config.exposes,
    podCidr: config.podCidr,
    serviceCidr: config.serviceCidr,
    clock: systemClock,
    log: logs.component('runtime'),
    nodeBinary: process.execPath,
    cliEntry: CLI_ENTRY,
    controlPlane: config.controlPlane,
    baseEnv: config.env,
    onShutdownRequest: () => stop(),
    // Said the moment readiness is first seen (by this loop or by `up -d` asking), never after.
    onFirstReady: () => ctx.stdout('all pods are ready\n'),
    ingressGateway: config.ingressGateway,
    addons: config.addons,
    ...(config.dashboard ? { dashboard: config.dashboard } : {}),
    ambient: {
      mintToken: async (namespace, serviceAccount, pod) => mintServiceAccountToken({ key: loadOrCreateTokenKey(caDir).privateKey, namespace, serviceAccount, pod }),
      ...(config.istioZtunnel ? { istioZtunnel: config.istioZtunnel } : {}),
    },
    sidecar: config.sidecars
      ? (podCtx) =>
          prepareSidecar(podCtx, {
            nodeBinary: process.execPath,
            cliEntry: CLI_ENTRY,
            baseEnv: config.env,
            discoveryPort: 15012,
            caRootFile: join(caDir, 'root-cert.pem'),
            mintToken: async (namespace, serviceAccount) => mintServiceAccountToken({ key: loadOrCreateTokenKey(caDir).privateKey, namespace, serviceAccount }),
          })
      : undefined,
  });
  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await mesh.start();
    for (const line of mesh.cleanedUp) ctx.stdout(`${line}\n`);
    ctx.stdout(`mesh ${mesh.prefix} started from ${config.dir} (state in ${config.stateDir}, log ${join(config.stateDir, 'mesh.log')}); Ctrl-C or \`mizzen down\` stops it\n`);
    printAccess(mesh.status(), ctx);
    printUrls(mesh.status(), ctx);
    let stopping = false;
    void stopped.then(() => (stopping = true));
    // Until Ctrl-C: say when all is ready, and each time a container fails, why.
    const seen = new Set<string>();
    while (!stopping) {
      const status = mesh.status();
      for (const p of unseenProblems(status.problems, seen)) ctx.stdout(`${describeProblem(p)}\n  (${problemHint(p, stateDirFlag(config, ctx))})\n`);
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 250))]);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await mesh.close();
  }
  ctx.stdout('mesh stopped and removed\n');
}

async function detached(config: UpConfig, ctx: CliContext): Promise<void> {
  // A mesh already running from this state directory: refuse before touching anything of it
  // (its up.log included). The mesh process claims the directory itself too (two racing starts).
  const running = readMeshState(config.stateDir);
  if (running && meshRunning(running)) throw alreadyRunningError(config.stateDir, running);
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const logFile = join(config.stateDir, 'up.log');
  const fd = openSync(logFile, 'w');
  const args = [CLI_ENTRY, 'up', config.dir, '--state-dir', config.stateDir, '--pod-cidr', config.podCidr, '--service-cidr', config.serviceCidr, '--sidecars', config.sidecars ? 'on' : 'off'];
  if (!config.controlPlane) args.push('--no-control-plane');
  if (config.ingressGateway) args.push('--ingress-gateway');
  if (config.istioZtunnel) args.push('--ztunnel-binary', config.istioZtunnel);
  if (config.addons.length > 0) args.push('--addons', config.addons.join(','));
  args.push('--dashboard-port', config.dashboard ? String(config.dashboard.port) : 'none');
  for (const e of config.exposes) args.push('--expose', `${e.namespace}/${e.service}:${e.port}=${e.localPort}`);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], cwd: ctx.cwd, env: ctx.env });
  closeSync(fd);
  let exitCode: number | null = null;
  child.on('exit', (code) => (exitCode = code ?? 1));
  child.unref();
  const client = new ControlClient(config.stateDir);
  const deadline = Date.now() + config.timeoutMs;
  const flag = stateDirFlag(config, ctx);
  let last: MeshStatus | undefined;
  while (Date.now() < deadline) {
    if (exitCode !== null) {
      const log = readFileSync(logFile, 'utf8').trim();
      throw new MizzenError('RUNTIME_FAILED', `mizzen up exited (code ${exitCode}) before the mesh was ready:\n${log.split('\n').slice(-20).join('\n')}`);
    }
    const status = await client.get<MeshStatus>('/status').catch(() => undefined);
    // Only our own mesh process answers for this start.
    if (status !== undefined && status.pid === child.pid) {
      if (!last) for (const line of status.cleanedUp) ctx.stdout(`${line}\n`);
      last = status;
    }
    if (last?.ready) {
      ctx.stdout(`mesh is ready (state in ${config.stateDir}, log ${logFile}); \`mizzen down${flag}\` removes it\n`);
      printAccess(last, ctx);
      printUrls(last, ctx);
      for (const p of last.problems) ctx.stdout(`  warning: ${describeProblem(p)} (${problemHint(p, flag)})\n`);
      return;
    }
    // A container that never came up and keeps failing will not come up by waiting: say why now.
    const fatal = last?.problems.filter((p) => p.fatal) ?? [];
    if (fatal.length > 0) {
      const denied = fatal.some((p) => p.container === 'istio-proxy' && /EACCES|permission denied|cannot (?:enter|read)/i.test(p.cause));
      const perms = denied ? `sidecars run as uid 1337 and read mizzen's files: make them readable by other users (chmod -R o+rX ${dirname(dirname(CLI_ENTRY))}); ` : '';
      throw new MizzenError('RUNTIME_FAILED', `the mesh cannot start:\n${fatal.map((p) => `  ${describeProblem(p)}`).join('\n')}`, {
        hint: `${perms}the mesh keeps running so that you can look: \`${problemHint(fatal[0], flag)}\`, \`mizzen get pods${flag}\`, ${logFile}; \`mizzen down${flag}\` removes it`,
      });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const problems = last?.problems ?? [];
  const why = problems.length > 0 ? `\n${problems.map((p) => `  ${describeProblem(p)}`).join('\n')}` : '';
  throw new MizzenError('RUNTIME_FAILED', `the mesh was not ready after ${config.timeoutMs / 1000}s; still waiting for: ${(last?.waitingFor ?? ['the control API']).join(', ')}${why}`, {
    hint: `it keeps running: see \`mizzen get pods${flag}\`, ${logFile}, and \`mizzen down${flag}\` to remove it`,
  });
}

/** The dashboard's and the addons' URLs. */
function printUrls(status: MeshStatus, ctx: CliContext): void {
  if (status.dashboard) ctx.stdout(`dashboard (service graph): ${status.dashboard}\n`);
  for (const [name, url] of Object.entries(status.addons ?? {})) ctx.stdout(`${name}: ${url}\n`);
}

/** ` --state-dir DIR` when the state directory is not the default one (for hints to copy). */
function stateDirFlag(config: UpConfig, ctx: CliContext): string {
  return config.stateDir === stateDirFrom(undefined, ctx.cwd) ? '' : ` --state-dir ${config.stateDir}`;
}
