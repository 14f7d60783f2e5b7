/**
 * xDS fidelity against the real istiod (bench only; never a test or CI dependency).
 *
 *   node bench/fidelity/run-fidelity.ts [--out DIR] [--port-base N] [--kube-script PATH] [--keep]
 *
 * Builds or finds istiod (bench/fidelity/istiod-build.sh, cached), starts a real kube-apiserver
 * (scripts/kube-cluster.sh, no controllers), creates Bookinfo as an injected cluster holds it
 * (bookinfo-cluster.ts) with Istio's destination-rule-all and virtual-service-all-v1, feeds
 * istiod through the API server and `mizzen discovery` the same objects read back from it, dumps
 * both planes' xDS for four sidecars and the ingress gateway (Istio's bookinfo-gateway.yaml) over
 * ADS and scores the fields per type (xds-diff.ts), the gateway apart.
 * Writes DIR/report.json, DIR/istiod/*.json and DIR/mizzen/*.json; prints the scores and the
 * most frequent differences.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL, messageNameOf } from '../../src/api/xds/type-urls.ts';
import { bookinfoCluster } from './bookinfo-cluster.ts';
import { dumpXds, type XdsDump } from './xds-dump.ts';
import { IGNORED, TRACING, commonDiffs, scoreType, type TypeScore } from './xds-diff.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const keep = args.includes('--keep');
const portBase = Number(flag('--port-base') ?? 21000 + Math.floor(Math.random() * 400) * 10);
const out = resolve(flag('--out') ?? mkdtempSync(join(tmpdir(), 'mizzen-fidelity-')));
const kubeScript = resolve(flag('--kube-script') ?? join(REPO, 'scripts/kube-cluster.sh'));
const sharedDir = [join(REPO, '../shared'), '/work/shared'].find((d) => existsSync(join(d, 'istio')));
if (!sharedDir) throw new Error('../shared/istio (Istio samples and CRDs) not found');
const SHARED: string = sharedDir;
const SIDECARS = ['productpage-v1', 'details-v1', 'ratings-v1', 'reviews-v1'];
const TYPES = [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint];
const SHORT: Record<string, string> = { [TYPE_URL.listener]: 'LDS', [TYPE_URL.route]: 'RDS', [TYPE_URL.cluster]: 'CDS', [TYPE_URL.endpoint]: 'EDS' };

const children: ChildProcess[] = [];
const kubeDir = join(out, 'kube');
let kubeStarted = false;

function log(s: string): void {
  process.stderr.write(`fidelity: ${s}\n`);
}

async function waitHttp(url: string, seconds: number, what: string): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready at ${url} within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function start(cmd: string, argv: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  writeFileSync(logFile, '');
  const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  const append = (c: Buffer): void => {
    chunks.push(c);
    writeFileSync(logFile, Buffer.concat(chunks));
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  children.push(child);
  return child;
}

async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  if (kubeStarted && !keep) execFileSync('bash', [kubeScript, 'stop', kubeDir], { stdio: 'inherit' });
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  log(`output in ${out}, ports from ${portBase}`);
  const istiod = execFileSync('bash', [join(REPO, 'bench/fidelity/istiod-build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  if (!existsSync(kubeScript)) throw new Error(`${kubeScript} not found (pass --kube-script)`);
  // Kubernetes is built by `scripts/kube-cluster.sh build` (once, cached); not started from here so
  // that two builds never run at once.
  let binDir: string;
  try {
    binDir = execFileSync('bash', [kubeScript, 'bin-dir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    throw new Error(`Kubernetes binaries not built: run ${kubeScript} build first`);
  }
  execFileSync('bash', [kubeScript, 'start', kubeDir, '--port-base', String(portBase), '--no-controllers'], { stdio: ['ignore', 'ignore', 'inherit'] });
  kubeStarted = true;
  const kubeconfig = join(kubeDir, 'kubeconfig');
  const kubectl = (argv: string[], input?: string): string => execFileSync(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...argv], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });

  log('Istio CRDs and Bookinfo into the API server');
  kubectl(['apply', '--server-side', '-f', join(SHARED, 'istio/api/kubernetes/customresourcedefinitions.gen.yaml')]);
  kubectl(['wait', '--for', 'condition=established', 'crd', '--all', '--timeout=60s']);
  const bookinfo = join(SHARED, 'istio/istio/samples/bookinfo');
  const cluster = bookinfoCluster(join(bookinfo, 'platform/kube/bookinfo.yaml'), [join(bookinfo, 'networking/destination-rule-all.yaml'), join(bookinfo, 'networking/virtual-service-all-v1.yaml'), join(bookinfo, 'networking/bookinfo-gateway.yaml')]);
  kubectl(['apply', '-f', '-'], cluster.objects.map((o) => stringify(o)).join('---\n'));
  for (const [key, status] of cluster.podStatus) kubectl(['patch', 'pod', key.split('/')[1]!, '-n', key.split('/')[0]!, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);

  // Mizzen reads the same objects back from the API server (as stored, with the fields it defaulted).
  const kinds = 'namespaces,nodes,serviceaccounts,services,endpointslices.discovery.k8s.io,pods,configmaps,destinationrules.networking.istio.io,virtualservices.networking.istio.io,gateways.networking.istio.io';
  const items = (JSON.parse(kubectl(['get', kinds, '-A', '-o', 'json'])) as { items: Record<string, any>[] }).items; // eslint-disable-line @typescript-eslint/no-explicit-any
  const configDir = join(out, 'mizzen-config');
  mkdirSync(configDir, { recursive: true });
  const kept = items.filter((o) => o.kind !== 'ConfigMap' || o.metadata.name === 'istio').map((o) => {
    delete o.metadata.managedFields;
    return o;
  });
  writeFileSync(join(configDir, 'cluster.yaml'), kept.map((o) => stringify(o)).join('---\n'));

  log(`istiod (${istiod})`);
  const p = (n: number): string => `127.0.0.1:${portBase + 10 + n}`;
  start(istiod, ['discovery', '--kubeconfig', kubeconfig, '--httpAddr', p(0), '--grpcAddr', p(1), '--secureGRPCAddr', p(2), '--httpsAddr', p(3), '--monitoringAddr', p(4), '--ctrlz_port', String(portBase + 15), '--ctrlz_address', '127.0.0.1', '--domain', 'cluster.local', '--log_output_level', 'default:warn'], {
    ...process.env, POD_NAME: 'istiod-fidelity', POD_NAMESPACE: 'istio-system', REVISION: 'default', CLUSTER_ID: 'Kubernetes', ENABLE_CA_SERVER: 'true', PILOT_CERT_PROVIDER: 'istiod', JWT_POLICY: 'third-party-jwt', KUBECONFIG: kubeconfig,
  }, join(out, 'istiod.log'));
  await waitHttp(`http://${p(0)}/ready`, 120, 'istiod');

  log('mizzen discovery');
  start(process.execPath, [join(REPO, 'bin/mizzen.js'), 'discovery', '--config', configDir, '--grpc-addr', p(6), '--http-addr', p(7)], { ...process.env, MIZZEN_LOG: 'warn' }, join(out, 'mizzen-discovery.log'));
  await waitHttp(`http://${p(7)}/ready`, 60, 'mizzen discovery');
  await new Promise((r) => setTimeout(r, 2000)); // both planes' first debounce

  const root = loadEnvoyRoot();
  const dumps: { proxy: string; istiod: XdsDump; mizzen: XdsDump }[] = [];
  const proxies = [
    ...cluster.sidecars.filter((x) => SIDECARS.some((d) => x.pod.startsWith(`${d}-`))).map((s) => ({ ...s, id: `sidecar~${s.ip}~${s.pod}.default~default.svc.cluster.local` })),
    { ...cluster.gateway, id: `router~${cluster.gateway.ip}~${cluster.gateway.pod}.istio-system~istio-system.svc.cluster.local` },
  ];
  for (const s of proxies) {
    const node = { id: s.id, metadata: s.metadata };
    const [a, b] = [await dumpXds(root, p(1), node), await dumpXds(root, p(6), node)];
    dumps.push({ proxy: s.pod, istiod: a, mizzen: b });
    for (const [plane, d] of [['istiod', a], ['mizzen', b]] as const) {
      mkdirSync(join(out, plane), { recursive: true });
      writeFileSync(join(out, plane, `${s.pod}.json`), JSON.stringify(Object.fromEntries(Object.entries(d).map(([t, r]) => [messageNameOf(t), r])), null, 2));
    }
  }
  const isGateway = (proxy: string): boolean => proxy === cluster.gateway.pod;
  const pairs = (t: string, gateway = false) => dumps.filter((d) => isGateway(d.proxy) === gateway).map((d) => ({ proxy: d.proxy, expected: d.istiod[t] ?? {}, actual: d.mizzen[t] ?? {} }));
  const scores: TypeScore[] = TYPES.map((t) => scoreType(SHORT[t]!, pairs(t)));
  const noTracing: TypeScore[] = TYPES.map((t) => scoreType(SHORT[t]!, pairs(t), [TRACING]));
  const gatewayScores: TypeScore[] = TYPES.map((t) => scoreType(SHORT[t]!, pairs(t, true)));
  const report = {
    date: new Date().toISOString(),
    istiod: istiod,
    sidecars: dumps.filter((d) => !isGateway(d.proxy)).map((d) => d.proxy),
    gateway: cluster.gateway.pod,
    ignored: IGNORED.map((i) => ({ path: String(i.path), why: i.why })),
    scoresWithoutTracing: noTracing.map((s) => ({ type: s.type, percent: Math.round((1000 * s.equal) / Math.max(1, s.total)) / 10, equal: s.equal, total: s.total })),
    scores: scores.map((s) => ({ type: s.type, percent: Math.round((1000 * s.equal) / Math.max(1, s.total)) / 10, equal: s.equal, total: s.total, resources: { both: s.resources.both, onlyIstiod: s.resources.onlyExpected, onlyMizzen: s.resources.onlyActual } })),
    topDiffs: Object.fromEntries(scores.map((s) => [s.type, commonDiffs(s.diffs)])),
    gatewayScores: gatewayScores.map((s) => ({ type: s.type, percent: Math.round((1000 * s.equal) / Math.max(1, s.total)) / 10, equal: s.equal, total: s.total, resources: { both: s.resources.both, onlyIstiod: s.resources.onlyExpected, onlyMizzen: s.resources.onlyActual } })),
    gatewayTopDiffs: Object.fromEntries(gatewayScores.map((s) => [s.type, commonDiffs(s.diffs)])),
  };
  writeFileSync(join(out, 'report.json'), JSON.stringify(report, null, 2));
  process.stdout.write(`type  equal/total  score  without tracing  resources (both, only istiod, only mizzen)\n`);
  report.scores.forEach((s, i) => {
    const n = report.scoresWithoutTracing[i]!;
    process.stdout.write(`${s.type.padEnd(5)} ${`${s.equal}/${s.total}`.padStart(11)}  ${`${s.percent}%`.padStart(5)}  ${`${n.equal}/${n.total} ${n.percent}%`.padStart(15)}  ${s.resources.both}, ${s.resources.onlyIstiod.length}, ${s.resources.onlyMizzen.length}\n`);
  });
  process.stdout.write(`ingress gateway (${cluster.gateway.pod}, Istio's bookinfo-gateway.yaml):\n`);
  for (const s of report.gatewayScores) process.stdout.write(`${s.type.padEnd(5)} ${`${s.equal}/${s.total}`.padStart(11)}  ${`${s.percent}%`.padStart(5)}  ${s.resources.both}, ${s.resources.onlyIstiod.length}, ${s.resources.onlyMizzen.length}\n`);
  process.stdout.write(`details: ${join(out, 'report.json')}\n`);
}

const onSignal = (): void => void cleanup().then(() => process.exit(130));
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
try {
  await main();
} catch (err) {
  process.stderr.write(`fidelity: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
  if (!keep && !flag('--out')) rmSync(join(out, 'kube'), { recursive: true, force: true });
}
