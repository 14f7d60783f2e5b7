/**
 * The control plane side by side with the real istiod (bench only: never a dependency of the
 * product, of `npm test` or of CI). One real kube-apiserver (scripts/kube-cluster.sh, etcd +
 * API server, no controllers) holds the benchmark mesh of mesh-config-files.ts (M ServiceEntries
 * × E endpoints, a VirtualService, the WorkloadEntry behind `moving`); `pilot-discovery` (built
 * once from the Go module proxy by bench/fidelity/istiod-build.sh) and `mizzen discovery
 * --kubeconfig` each watch it, one at a time, alternating per proxy count so their figures come
 * from the same minutes. The ADS simulator (ads-simulator.ts: Istio's node metadata, EDS/RDS by
 * name as Envoy unless --subscribe wildcard) connects N proxies; then a VirtualService edit and an
 * endpoint edit (WorkloadEntry address) go through kubectl, and the simulator reports when every
 * proxy has received and ACKed the new RDS / EDS.
 *
 *   node bench/controlplane/istiod-side-by-side.ts [--proxies 100,1000] [--services 1000] [--endpoints 10]
 *     [--subscribe named|wildcard] [--streams-per-connection 100] [--watch-timeout 600] [--quiet 5]
 *     [--planes istiod,mizzen] [--json FILE]
 *
 * Before each edit the simulator waits until no response of any type has arrived for --quiet
 * seconds (a plane still working through its initial pushes is not measured mid-push: at 1,000
 * proxies istiod keeps pushing for minutes after the last proxy first synced), and each edit may
 * take --watch-timeout seconds to converge (a VirtualService edit costs istiod ~70 CPU-s at 1,000
 * proxies: more than the simulator's former fixed 60 s on two shared cores). A plane that fails
 * (not ready, not synced in 15 minutes) is reported as such and the run goes on with the next.
 *
 * Rows per plane and N: initial sync (simulator start → every proxy has CDS, EDS, LDS, RDS) and
 * the plane's CPU-s for it, convergence P50/P99 and the plane's CPU-s per change, peak RSS
 * (VmHWM), response bytes per proxy per type, and how long each edit's kubectl ran (included in
 * its convergence; compare planes on convergence minus it when the machine is loaded). istiod runs with PILOT_MAX_REQUESTS_PER_SECOND
 * raised (its default admits 25 new connections per second on 2 cores).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds } from '../dataplane/process-stats.ts';
import { freePort, waitForLine } from './controlplane-bench.ts';
import { virtualService, workloadEntry, writeMesh, type MeshShape } from './mesh-config-files.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const { values } = parseArgs({
  options: {
    proxies: { type: 'string', default: '100,1000' },
    services: { type: 'string', default: '1000' },
    endpoints: { type: 'string', default: '10' },
    subscribe: { type: 'string', default: 'named' },
    'streams-per-connection': { type: 'string', default: '100' },
    'watch-timeout': { type: 'string', default: '600' },
    quiet: { type: 'string', default: '5' },
    planes: { type: 'string', default: 'istiod,mizzen' },
    json: { type: 'string' },
  },
});
const shape: MeshShape = { services: Number(values.services), endpointsPerService: Number(values.endpoints), namespace: 'bench' };
const subscribe = values.subscribe === 'wildcard' ? 'wildcard' : 'named';
const perConnection = Number(values['streams-per-connection']);
const watchTimeoutMs = Number(values['watch-timeout']) * 1000;
const quietMs = Number(values.quiet) * 1000;
const planes = values.planes.split(',').filter((p): p is Plane => p === 'istiod' || p === 'mizzen');
const log = (s: string): void => void process.stdout.write(`${s}\n`);
type Plane = 'istiod' | 'mizzen';

export interface SideBySideRow {
  plane: Plane;
  proxies: number;
  subscribe: string;
  initial_sync_s: number;
  initial_sync_cpu_s: number;
  /** Response bytes per proxy per type during the initial sync (KiB). */
  kib_per_proxy: Record<string, number>;
  vs_p50_ms: number;
  vs_p99_ms: number;
  vs_cpu_s: number;
  endpoint_p50_ms: number;
  endpoint_p99_ms: number;
  endpoint_cpu_s: number;
  /**
   * How long each edit's `kubectl apply` ran (start-up, OpenAPI, GET, PATCH): part of every
   * convergence figure above, the same work for both planes, and slower on a loaded machine.
   */
  vs_apply_ms: number;
  endpoint_apply_ms: number;
  converged: string;
  /** Seconds the plane kept pushing after the initial sync, before the first edit (quiet wait). */
  settle_s: number;
  /** Responses of each type the simulator received during each edit's measurement (all proxies). */
  vs_responses: Record<string, number>;
  endpoint_responses: Record<string, number>;
  /** Streams the plane closed (e.g. istiod's rate limiter) that the simulator re-opened. */
  reopened: number;
  /**
   * The simulator's CPU-s for the initial sync and per edit (it shares the cores: when it is near
   * the wall time, the simulator, not the plane, set the pace).
   */
  sim_sync_cpu_s: number;
  sim_vs_cpu_s: number;
  sim_endpoint_cpu_s: number;
  peak_rss_mb: number;
  load_average: number[];
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

async function waitReady(url: string, child: ChildProcess, seconds: number, what: string): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    if (await fetch(url).then((r) => r.ok).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready in ${seconds} s`);
}

const kubeScript = join(repo, 'scripts', 'kube-cluster.sh');
const dir = mkdtempSync(join(tmpdir(), 'mizzen-istiod-sbs-'));
const meshDir = join(dir, 'mesh');
const base = 27000 + 10 * Math.floor(Math.random() * 100);
const rows: SideBySideRow[] = [];
let plane: ChildProcess | undefined;
let sim: ChildProcess | undefined;
let kubeStarted = false;
try {
  const istiodBin = execFileSync('bash', [join(repo, 'bench/fidelity/istiod-build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const binDir = execFileSync('bash', [kubeScript, 'bin-dir'], { encoding: 'utf8' }).trim();
  execFileSync('bash', [kubeScript, 'start', join(dir, 'kube'), '--port-base', String(base), '--no-controllers'], { stdio: ['ignore', 'ignore', 'inherit'] });
  kubeStarted = true;
  const kubeconfig = join(dir, 'kube', 'kubeconfig');
  const kubectl = (args: string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = execFile(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => (e ? reject(new Error(err || e.message)) : resolve(out)));
      c.stdin!.end(input ?? '');
    });
  const shared = [join(repo, '../shared'), '/work/shared'].find((d) => existsSync(join(d, 'istio/api/kubernetes/customresourcedefinitions.gen.yaml')));
  const crds = shared ? join(shared, 'istio/api/kubernetes/customresourcedefinitions.gen.yaml') : join(repo, 'src/control/config/schema/istio-crds.gen.yaml');
  await kubectl(['apply', '--server-side', '-f', crds]);
  await kubectl(['wait', '--for', 'condition=established', 'crd', '--all', '--timeout=60s']);
  await kubectl(['create', 'namespace', shape.namespace]);
  await kubectl(['create', 'namespace', 'istio-system']);
  await kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: "trustDomain: cluster.local\\nrootNamespace: istio-system\\n"\n  meshNetworks: "networks: {}\\n"\n');
  writeMesh(meshDir, shape);
  let t = performance.now();
  await kubectl(['apply', '--server-side', '-f', meshDir]);
  log(`${shape.services} ServiceEntries × ${shape.endpointsPerService} endpoints, a VirtualService and a WorkloadEntry through the API server in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  let vsWeight = 90;
  let endpointShift = 1;
  const start = async (which: Plane): Promise<{ child: ChildProcess; grpc: string }> => {
    const [grpc, secure, http, p4, p5, p6] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    if (which === 'istiod') {
      const child = spawn(istiodBin, ['discovery', '--kubeconfig', kubeconfig, '--httpAddr', `127.0.0.1:${http}`, '--grpcAddr', `127.0.0.1:${grpc}`, '--secureGRPCAddr', `127.0.0.1:${secure}`, '--httpsAddr', `127.0.0.1:${p4}`, '--monitoringAddr', `127.0.0.1:${p5}`, '--ctrlz_port', String(p6), '--ctrlz_address', '127.0.0.1', '--domain', 'cluster.local', '--log_output_level', 'default:warn'], {
        stdio: ['ignore', 'ignore', 'ignore'],
        env: { ...process.env, POD_NAME: 'istiod-bench', POD_NAMESPACE: 'istio-system', REVISION: 'default', CLUSTER_ID: 'Kubernetes', ENABLE_CA_SERVER: 'true', PILOT_CERT_PROVIDER: 'istiod', JWT_POLICY: 'third-party-jwt', KUBECONFIG: kubeconfig, PILOT_MAX_REQUESTS_PER_SECOND: '100000' },
      });
      plane = child;
      await waitReady(`http://127.0.0.1:${http}/ready`, child, 180, 'istiod');
      return { child, grpc: `127.0.0.1:${grpc}` };
    }
    const child = spawn(process.execPath, [join(repo, 'bin/mizzen.js'), 'discovery', '--kubeconfig', kubeconfig, '--grpc-addr', `127.0.0.1:${grpc}`, '--secure-grpc-addr', `127.0.0.1:${secure}`, '--http-addr', `127.0.0.1:${http}`, '--webhook-addr', `127.0.0.1:${p4}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, MIZZEN_LOG: 'error' },
    });
    plane = child;
    await waitReady(`http://127.0.0.1:${http}/ready`, child, 180, 'mizzen discovery');
    return { child, grpc: `127.0.0.1:${grpc}` };
  };

  const writeRows = (): void => {
    if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
  };
  /** One plane at N proxies: start it, sync, settle, the two edits; the plane is left running (see `plane`). */
  const runPlane = async (n: number, which: Plane): Promise<SideBySideRow> => {
    const { child, grpc } = await start(which);
    // Both planes debounce their first push; give it the same second.
    await new Promise((r) => setTimeout(r, 2000));
    const load0 = loadavg();
    const c0 = cpuSeconds(child.pid!);
    t = performance.now();
    sim = spawn(process.execPath, ['--max-old-space-size=8192', join(here, 'ads-simulator.ts'), JSON.stringify({ address: grpc, proxies: n, channels: Math.max(1, Math.ceil(n / perConnection)), namespace: shape.namespace, subscribe })], { stdio: ['pipe', 'pipe', 'inherit'] });
    const rl = createInterface({ input: sim.stdout! });
    const quiet = async (): Promise<number> => {
      sim!.stdin!.write(`quiet ${quietMs} ${watchTimeoutMs}\n`);
      const q = JSON.parse((await waitForLine(rl, (l) => l.startsWith('quiet '), watchTimeoutMs + 60_000, `${which} to stop pushing`)).slice(6)) as { quiet: boolean; waited_ms: number; responses: number };
      log(`${which}: ${q.quiet ? 'quiet' : 'STILL PUSHING'} after ${(q.waited_ms / 1000).toFixed(1)} s (${q.responses} responses meanwhile)`);
      return q.waited_ms / 1000;
    };
    const synced = await waitForLine(rl, (l) => l.startsWith('synced'), 900_000, `${n} proxies to sync with ${which}`);
    const syncS = (performance.now() - t) / 1000;
    const syncCpu = cpuSeconds(child.pid!) - c0;
    const simSyncCpu = cpuSeconds(sim.pid!);
    const bytes = (JSON.parse(synced.slice('synced'.length)) as { bytes: Record<string, number> }).bytes;
    const kib = Object.fromEntries(Object.entries(bytes).map(([k, b]) => [k, Math.round(b / n / 1024)]));
    log(`${which}: ${n} proxies (${subscribe}) synced in ${syncS.toFixed(1)} s, ${syncCpu.toFixed(1)} CPU-s (simulator ${simSyncCpu.toFixed(1)}); KiB per proxy ${JSON.stringify(kib)}; load ${load0.map((x) => x.toFixed(1)).join(' ')}`);
    const settle = await quiet();
    type Measured = { p50: number; p99: number; cpu: number; simCpu: number; applyMs: number; converged: number; responses: Record<string, number>; reopened: number };
    const measure = async (type: 'rds' | 'eds', apply: () => Promise<unknown>): Promise<Measured> => {
      sim!.stdin!.write(`watch ${type} ${watchTimeoutMs}\n`);
      await waitForLine(rl, (l) => l === 'watching', 10_000, 'the simulator to arm');
      const cpu0 = cpuSeconds(child.pid!);
      const sim0 = cpuSeconds(sim!.pid!);
      const a0 = performance.now();
      await apply();
      const applyMs = Math.round(performance.now() - a0);
      const r = JSON.parse(await waitForLine(rl, (l) => l.startsWith('{'), watchTimeoutMs + 60_000, `${type} convergence`)) as { converged: number; p50_ms: number; p99_ms: number; responses: Record<string, number>; reopened: number };
      return { p50: Math.round(r.p50_ms), p99: Math.round(r.p99_ms), cpu: Number((cpuSeconds(child.pid!) - cpu0).toFixed(2)), simCpu: Number((cpuSeconds(sim!.pid!) - sim0).toFixed(2)), applyMs, converged: r.converged, responses: r.responses, reopened: r.reopened };
    };
    vsWeight = vsWeight === 90 ? 50 : 90;
    const vs = await measure('rds', () => kubectl(['apply', '-f', '-'], virtualService(shape, vsWeight)));
    await quiet();
    endpointShift = endpointShift === 1 ? 2 : 1;
    const ep = await measure('eds', () => kubectl(['apply', '-f', '-'], workloadEntry(shape, endpointShift)));
    const row: SideBySideRow = {
      plane: which, proxies: n, subscribe,
      initial_sync_s: Number(syncS.toFixed(1)), initial_sync_cpu_s: Number(syncCpu.toFixed(1)), kib_per_proxy: kib,
      vs_p50_ms: vs.p50, vs_p99_ms: vs.p99, vs_cpu_s: vs.cpu,
      endpoint_p50_ms: ep.p50, endpoint_p99_ms: ep.p99, endpoint_cpu_s: ep.cpu,
      vs_apply_ms: vs.applyMs, endpoint_apply_ms: ep.applyMs,
      converged: `${vs.converged}/${ep.converged} of ${n}`,
      settle_s: Number(settle.toFixed(1)),
      vs_responses: vs.responses,
      endpoint_responses: ep.responses,
      reopened: ep.reopened,
      sim_sync_cpu_s: Number(simSyncCpu.toFixed(1)),
      sim_vs_cpu_s: vs.simCpu,
      sim_endpoint_cpu_s: ep.simCpu,
      peak_rss_mb: peakRssMb(child.pid!),
      load_average: loadavg().map((x) => Number(x.toFixed(1))),
    };
    log(`${which}: ${n} proxies: VirtualService p50 ${vs.p50} ms p99 ${vs.p99} ms (kubectl ${vs.applyMs} ms; ${vs.cpu} CPU-s, simulator ${vs.simCpu}, responses ${JSON.stringify(vs.responses)}); endpoint p50 ${ep.p50} ms p99 ${ep.p99} ms (kubectl ${ep.applyMs} ms; ${ep.cpu} CPU-s, simulator ${ep.simCpu}, responses ${JSON.stringify(ep.responses)}); converged ${row.converged}; streams re-opened ${ep.reopened}; peak RSS ${row.peak_rss_mb} MB; load ${row.load_average.join(' ')}`);
    sim.stdin!.write('exit\n');
    await new Promise((r) => (sim!.exitCode !== null ? r(null) : sim!.once('exit', r)));
    sim = undefined;
    return row;
  };
  const failures: string[] = [];
  for (const n of values.proxies.split(',').map(Number)) {
    for (const which of planes) {
      try {
        rows.push(await runPlane(n, which));
        writeRows();
      } catch (err) {
        failures.push(`${which} at ${n} proxies: ${(err as Error).message}`);
        log(`${which}: ${n} proxies FAILED: ${(err as Error).message}`);
        sim?.kill('SIGKILL');
        sim = undefined;
      }
      if (plane) {
        const child = plane;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
        clearTimeout(killer);
        plane = undefined;
      }
    }
  }
  log(`machine: ${cpus().length} × ${cpus()[0]?.model}; ${new Date().toISOString()}`);
  writeRows();
  if (failures.length) {
    log(`failed: ${failures.join('; ')}`);
    process.exitCode = 1;
  }
} finally {
  sim?.kill('SIGKILL');
  if (plane && plane.exitCode === null) {
    plane.kill('SIGKILL');
    await new Promise((r) => plane!.once('exit', r));
  }
  if (kubeStarted) execFileSync('bash', [kubeScript, 'stop', join(dir, 'kube')]);
  rmSync(dir, { recursive: true, force: true });
}
