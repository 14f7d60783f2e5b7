/**
 * Kubernetes mode at scale: `mizzen discovery --kubeconfig` against a real API server (the test
 * cluster of scripts/kube-cluster.sh, etcd + kube-apiserver only) holding M Services × E endpoints
 * (Services without selectors, one EndpointSlice each, created through the API). Measures the
 * initial sync (discovery start → /ready: every collection listed) with discovery's RSS after it,
 * then N simulated proxies (ads-simulator.ts) and the convergence after `kubectl apply` of a
 * VirtualService and after an EndpointSlice edit through the API.
 *
 *   node bench/controlplane/kube-controlplane-bench.ts [proxies=1000] [services=1000] [endpoints=10]
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KubeApi, loadKubeConfig } from '../../src/lib/kube/kube-api.ts';
import { cpuSeconds, rssMb } from '../dataplane/process-stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const script = join(repo, 'scripts', 'kube-cluster.sh');
const [proxies = 1000, services = 1000, endpoints = 10] = process.argv.slice(2).map(Number);
const ns = 'bench';
const log = (s: string): void => void process.stdout.write(`${s}\n`);

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

function slice(i: number, shift = 0): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'bench' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: endpoints }, (_, e) => {
      const n = i * endpoints + e + shift;
      return { addresses: [`10.${200 + ((n >> 16) & 0x3f)}.${(n >> 8) & 0xff}.${n & 0xff}`], conditions: { ready: true } };
    }),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'mizzen-kube-bench-'));
const base = 29000 + 5 * Math.floor(Math.random() * 100);
let discovery: ChildProcess | undefined;
let sim: ChildProcess | undefined;
try {
  const bin = execFileSync('bash', [script, 'bin-dir'], { encoding: 'utf8' }).trim();
  execFileSync('bash', [script, 'start', dir, '--port-base', String(base), '--no-controllers'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const kubeconfig = join(dir, 'kubeconfig');
  const api = new KubeApi(loadKubeConfig({ file: kubeconfig }));
  const kubectl = (args: string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = execFile(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], (e, out, err) => (e ? reject(new Error(err)) : resolve(out)));
      c.stdin!.end(input ?? '');
    });
  await kubectl(['apply', '--server-side', '-f', join(repo, 'src/control/config/schema/istio-crds.gen.yaml')]);
  await kubectl(['create', 'namespace', ns]);
  await kubectl(['create', 'namespace', 'istio-system']);
  let t = performance.now();
  await pool(Array.from({ length: services }, (_, i) => i), 16, async (i) => {
    await api.request('POST', `/api/v1/namespaces/${ns}/services`, { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: ns }, spec: { ports: [{ name: 'http', port: 8080 }] } } });
    await api.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, { body: slice(i) });
  });
  log(`created ${services} Services + ${services} EndpointSlices (${services * endpoints} endpoints) through the API server in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const [grpc, secure, http, webhook] = [await freePort(), await freePort(), await freePort(), await freePort()];
  t = performance.now();
  const load0 = loadavg()[0]!;
  discovery = spawn(process.execPath, [join(repo, 'bin/mizzen.js'), 'discovery', '--kubeconfig', kubeconfig, '--grpc-addr', `127.0.0.1:${grpc}`, '--secure-grpc-addr', `127.0.0.1:${secure}`, '--http-addr', `127.0.0.1:${http}`, '--webhook-addr', `127.0.0.1:${webhook}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, MIZZEN_LOG: 'error' },
  });
  for (;;) {
    if (discovery.exitCode !== null) throw new Error('discovery exited');
    const ok = await fetch(`http://127.0.0.1:${http}/ready`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const syncS = (performance.now() - t) / 1000;
  log(`initial sync (start → ready, all collections listed): ${syncS.toFixed(2)} s; discovery RSS ${Math.round(rssMb(discovery.pid!))} MB, CPU ${cpuSeconds(discovery.pid!).toFixed(1)} s; load ${load0.toFixed(1)}`);

  t = performance.now();
  sim = spawn(process.execPath, ['--max-old-space-size=8192', join(here, 'ads-simulator.ts'), JSON.stringify({ address: `127.0.0.1:${grpc}`, proxies, channels: Math.max(1, Math.ceil(proxies / 200)), namespace: ns })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = createInterface({ input: sim.stdout! });
  const next = (pred: (l: string) => boolean): Promise<string> => new Promise((resolve) => {
    const on = (l: string): void => {
      if (!pred(l)) return;
      rl.off('line', on);
      resolve(l);
    };
    rl.on('line', on);
  });
  await next((l) => l.startsWith('synced'));
  log(`${proxies} proxies synced in ${((performance.now() - t) / 1000).toFixed(1)} s; discovery RSS ${Math.round(rssMb(discovery.pid!))} MB`);

  const vs = (w: number): string => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bench-vs, namespace: ${ns}}\nspec:\n  hosts: [svc-0.${ns}.svc.cluster.local]\n  http:\n  - route:\n    - {destination: {host: svc-0.${ns}.svc.cluster.local}, weight: ${w}}\n    - {destination: {host: svc-1.${ns}.svc.cluster.local}, weight: ${100 - w}}\n`;
  const changes: [string, 'rds' | 'eds', () => Promise<unknown>][] = [
    ['kubectl apply VirtualService (new)', 'rds', () => kubectl(['apply', '-f', '-'], vs(90))],
    ['kubectl apply VirtualService (edit)', 'rds', () => kubectl(['apply', '-f', '-'], vs(50))],
    ['EndpointSlice edit (API PUT)', 'eds', async () => {
      const cur = await api.request<Record<string, any>>('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/svc-7-1`);
      await api.request('PUT', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/svc-7-1`, { body: { ...slice(7, 100_000), metadata: { ...slice(7).metadata as object, resourceVersion: cur.metadata.resourceVersion } } });
    }],
  ];
  for (const [what, type, apply] of changes) {
    sim.stdin!.write(`watch ${type}\n`);
    await next((l) => l === 'watching');
    const load = loadavg()[0]!;
    const c0 = cpuSeconds(discovery.pid!);
    const a0 = performance.now();
    await apply();
    const applyMs = performance.now() - a0;
    const r = JSON.parse(await next((l) => l.startsWith('{'))) as { converged: number; p50_ms: number; p99_ms: number };
    log(`${what}: converged ${r.converged}/${proxies}, p50 ${Math.round(r.p50_ms)} ms, p99 ${Math.round(r.p99_ms)} ms (from the change's start; the apply itself took ${Math.round(applyMs)} ms); discovery CPU ${(cpuSeconds(discovery.pid!) - c0).toFixed(2)} s; load ${load.toFixed(1)}`);
  }
  sim.stdin!.write('exit\n');
  sim.kill('SIGKILL');
  discovery.kill('SIGTERM');
  await new Promise((r) => (discovery!.exitCode !== null ? r(null) : discovery!.once('exit', r)));

  // Baseline, same minutes: the same Services and EndpointSlices as files (`--config`), a file edit.
  const cfg = join(dir, 'files');
  mkdirSync(cfg);
  const docs: string[] = [];
  for (let i = 0; i < services; i++) {
    docs.push(JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: ns }, spec: { clusterIP: `10.96.${(i >> 8) & 0xff}.${i & 0xff}`, ports: [{ name: 'http', port: 8080 }] } }));
    docs.push(JSON.stringify(slice(i)));
  }
  writeFileSync(join(cfg, 'services.yaml'), docs.join('\n---\n'));
  writeFileSync(join(cfg, 'vs.yaml'), vs(90));
  const [g2, h2] = [await freePort(), await freePort()];
  t = performance.now();
  discovery = spawn(process.execPath, [join(repo, 'bin/mizzen.js'), 'discovery', '--config', cfg, '--grpc-addr', `127.0.0.1:${g2}`, '--secure-grpc-addr', '', '--http-addr', `127.0.0.1:${h2}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MIZZEN_LOG: 'error' } });
  for (;;) {
    if (discovery.exitCode !== null) throw new Error('file-mode discovery exited');
    if (await fetch(`http://127.0.0.1:${h2}/ready`).then((r) => r.ok).catch(() => false)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  log(`baseline, file mode: initial sync ${((performance.now() - t) / 1000).toFixed(2)} s; discovery RSS ${Math.round(rssMb(discovery.pid!))} MB; load ${loadavg()[0]!.toFixed(1)}`);
  sim = spawn(process.execPath, ['--max-old-space-size=8192', join(here, 'ads-simulator.ts'), JSON.stringify({ address: `127.0.0.1:${g2}`, proxies, channels: Math.max(1, Math.ceil(proxies / 200)), namespace: ns })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl2 = createInterface({ input: sim.stdout! });
  const next2 = (pred: (l: string) => boolean): Promise<string> => new Promise((resolve) => {
    const on = (l: string): void => {
      if (!pred(l)) return;
      rl2.off('line', on);
      resolve(l);
    };
    rl2.on('line', on);
  });
  await next2((l) => l.startsWith('synced'));
  sim.stdin!.write('watch rds\n');
  await next2((l) => l === 'watching');
  const load = loadavg()[0]!;
  writeFileSync(join(cfg, 'vs.yaml'), vs(50));
  const r = JSON.parse(await next2((l) => l.startsWith('{'))) as { converged: number; p50_ms: number; p99_ms: number };
  log(`baseline, file mode: VirtualService file edit: converged ${r.converged}/${proxies}, p50 ${Math.round(r.p50_ms)} ms, p99 ${Math.round(r.p99_ms)} ms; load ${load.toFixed(1)}`);
  log(`machine: ${cpus().length} × ${cpus()[0]?.model}, ${new Date().toISOString()}`);
  sim.stdin!.write('exit\n');
} finally {
  sim?.kill('SIGKILL');
  if (discovery) {
    discovery.kill('SIGTERM');
    await new Promise((r) => (discovery!.exitCode !== null ? r(null) : discovery!.once('exit', r)));
  }
  execFileSync('bash', [script, 'stop', dir]);
  rmSync(dir, { recursive: true, force: true });
}
