/**
 * `node bench/dataplane-quick.ts [--seconds 10] [--rps 1000] [--warmup 2] [--plaintext] [--floor]`: the data plane hot
 * path on loopback, no root needed. load generator → client sidecar (mizzen proxy) → mTLS →
 * server sidecar (mizzen proxy) → 1 KB HTTP backend, against load generator → backend directly,
 * in the same run (Istio's recipe: HTTP/1.1, 1 KB, 4 connections, fixed rate); --floor also runs
 * two plaintext byte relays in the proxies' place (the floor of any userspace hop). Prints added
 * P50/P90/P99, CPU per 1,000 rps and RSS per proxy. Profile with MIZZEN_BENCH_PROF=1 (the
 * proxies write --cpu-prof files to $TMPDIR/mizzen-bench-prof/, sampling every
 * MIZZEN_BENCH_PROF_INTERVAL µs, default 100; read them with bench/dataplane/profile-split.ts).
 * MIZZEN_BENCH_NODE_FLAGS adds node flags to the proxies (e.g. `--perf-basic-prof` for `perf`);
 * MIZZEN_BENCH_PROXY_OUT=DIR copies each proxy's stdout to DIR/{client,server}.out (V8 traces).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import * as net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TYPE_URL } from '../src/api/xds/type-urls.ts';
import { EnvoyCodec } from '../src/data/xds-client/envoy-codec.ts';
import { TestAdsServer } from '../test/proxy/support/test-ads-server.ts';
import { address, DOWNSTREAM_TLS, hcm, route, routeConfig, staticCluster, UPSTREAM_TLS, vhost } from '../test/proxy/support/envoy-builders.ts';
import { issue, makeCa } from '../test/proxy/support/test-pki.ts';
import { cpuSeconds, rssMb } from './dataplane/process-stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rps: { type: 'string', default: '1000' }, plaintext: { type: 'boolean', default: false }, warmup: { type: 'string', default: '2' }, floor: { type: 'boolean', default: false } } });
const seconds = Number(values.seconds);
const rps = Number(values.rps);
const mtls = !values.plaintext;
const log = (s: string): void => void process.stdout.write(`${s}\n`);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function start(args: string[], readyText: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    const t = setTimeout(() => reject(new Error(`${args[1]} did not start: ${out}`)), 20_000);
    const on = (d: Buffer): void => {
      out += d;
      if (readyText.test(out)) {
        clearTimeout(t);
        resolve(c);
      }
    };
    c.stdout!.on('data', on);
    c.stderr!.on('data', on);
    c.once('exit', (code) => reject(new Error(`${args[1]} exited ${code}: ${out}`)));
    if (env.MIZZEN_BENCH_OUT) {
      const file = createWriteStream(env.MIZZEN_BENCH_OUT);
      const t0 = performance.now();
      c.stdout!.on('data', (d: Buffer) => file.write(`@${((performance.now() - t0) / 1000).toFixed(1)}s\n${d}`));
    }
  });
}

interface LoadResult {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  achieved_rps: number;
  errors: number;
  ok: number;
  /** vCPU per 1,000 rps of each watched process over the whole run (warm-up included) */
  cpuAll: number[];
  /** the same after the warm-up (steady state: what the latency figures cover too) */
  cpuSteady: number[];
}

/** Run the load generator against `port`, reading the CPU of `watch` (pids) at start, end of warm-up and end. */
function runLoad(port: number, watch: number[] = []): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const warmup = Number(values.warmup);
    const args = { host: '127.0.0.1', port, rps, connections: 4, seconds, warmupSeconds: warmup, payloadBytes: 1024, path: '/bench', hostHeader: 'server.default.svc.cluster.local:9080' };
    const cpu0 = watch.map(cpuSeconds);
    const t0 = performance.now();
    let cpuW = cpu0;
    let tW = t0;
    const c = spawn(process.execPath, [join(here, 'dataplane', 'load-generator.ts'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => {
      cpuW = watch.map(cpuSeconds);
      tW = performance.now();
    }, warmup * 1000 + 300); // the generator's own start (~0.3 s) precedes its warm-up
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`load generator exited ${code}: ${out}`));
      const r = JSON.parse(out) as LoadResult;
      const cpu1 = watch.map(cpuSeconds);
      const t1 = performance.now();
      const perK = (from: number[], t: number) => cpu1.map((x, i) => ((x - from[i]) / ((t1 - t) / 1000)) / (r.achieved_rps / 1000));
      r.cpuAll = perK(cpu0, t0);
      r.cpuSteady = perK(cpuW, tW);
      resolve(r);
    });
  });
}

const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });

async function main(): Promise<void> {
  const codec = new EnvoyCodec();
  const backendPort = await freePort();
  const inPort = await freePort();
  const outPort = await freePort();
  const backend = await start([join(here, 'dataplane', 'http-backend.ts'), String(backendPort), '127.0.0.1'], /ready/);
  const ca = await makeCa('bench-root');
  const serverCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/server');
  const clientCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/client');
  const secret = (name: string, c: { certPem: string; keyPem: string }) => ({ name, tlsCertificate: { certificateChain: { inlineString: c.certPem }, privateKey: { inlineString: c.keyPem } } });
  const rootSecret = { name: 'bench-root', validationContext: { trustedCa: { inlineString: ca.certPem } } };
  const common = { tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_3' }, tlsCertificateSdsSecretConfigs: [SDS('bench-cert')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/' }] }, validationContextSdsSecretConfig: SDS('bench-root') } };

  const serverAds = new TestAdsServer(codec);
  await serverAds.start();
  serverAds.set(TYPE_URL.cluster, [staticCluster('inbound|9080||', [['127.0.0.1', backendPort]])]);
  serverAds.set(TYPE_URL.listener, [{
    name: 'virtualInbound', address: address('127.0.0.1', inPort),
    filterChains: [{ ...(mtls ? { transportSocket: { name: 'tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: { ...common, alpnProtocols: ['istio-peer-exchange', 'istio'] } } } } : {}), filters: [hcm('inbound|9080||')] }],
  }]);
  serverAds.set(TYPE_URL.route, [routeConfig('inbound|9080||', [vhost('inbound', ['*'], [route({ prefix: '/' }, { cluster: 'inbound|9080||', timeout: { seconds: 0 } })])])]);
  serverAds.set(TYPE_URL.secret, [secret('bench-cert', serverCert), rootSecret]);

  const clientAds = new TestAdsServer(codec);
  await clientAds.start();
  clientAds.set(TYPE_URL.cluster, [staticCluster('outbound|9080||server.default.svc.cluster.local', [['127.0.0.1', inPort]], mtls ? { transportSocket: { name: 'tls', typedConfig: { '@type': UPSTREAM_TLS, commonTlsContext: { ...common, alpnProtocols: ['istio-peer-exchange', 'istio'] } } } } : {})]);
  clientAds.set(TYPE_URL.listener, [{ name: '0.0.0.0_9080', address: address('127.0.0.1', outPort), filterChains: [{ filters: [hcm('9080')] }] }]);
  clientAds.set(TYPE_URL.route, [routeConfig('9080', [vhost('server', ['*'], [route({ prefix: '/' }, { cluster: 'outbound|9080||server.default.svc.cluster.local', timeout: { seconds: 0 } })])])]);
  clientAds.set(TYPE_URL.secret, [secret('bench-cert', clientCert), rootSecret]);

  const prof = process.env.MIZZEN_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', join(tmpdir(), 'mizzen-bench-prof'), '--cpu-prof-interval', process.env.MIZZEN_BENCH_PROF_INTERVAL ?? '100'] : [];
  const extraFlags = (process.env.MIZZEN_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const proxyArgs = (ads: TestAdsServer, pod: string) => [...prof, ...extraFlags, join(root, 'bin', 'mizzen.js'), 'proxy', 'sidecar', '--discovery', ads.address, '--no-ca', '--admin-port', '0', '--readiness-port', 'none', '--prometheus-port', 'none', '--ip', '127.0.0.1', '--pod', pod, '--namespace', 'default'];
  const outFile = (pod: string) => (process.env.MIZZEN_BENCH_PROXY_OUT ? { MIZZEN_BENCH_OUT: join(process.env.MIZZEN_BENCH_PROXY_OUT, `${pod}.out`) } : {});
  const serverProxy = await start(proxyArgs(serverAds, 'server'), /admin/, { MIZZEN_LOG: 'warn', ...outFile('server') });
  const clientProxy = await start(proxyArgs(clientAds, 'client'), /admin/, { MIZZEN_LOG: 'warn', ...outFile('client') });
  // wait until the path works end to end
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(outPort, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
      let d = '';
      s.on('data', (c) => (d += c));
      s.on('close', () => resolve(d.startsWith('HTTP/1.1 200')));
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 200) throw new Error('proxied path never became ready');
    await new Promise((r) => setTimeout(r, 50));
  }
  const relays: ChildProcess[] = [];
  let relayPort = 0;
  if (values.floor) {
    // the floor: two byte relays (plaintext) in the same place as the two proxies
    const r2 = await freePort();
    relayPort = await freePort();
    relays.push(await start([join(here, 'dataplane', 'byte-relay.ts'), String(r2), '127.0.0.1', String(backendPort), '127.0.0.1'], /ready/));
    relays.push(await start([join(here, 'dataplane', 'byte-relay.ts'), String(relayPort), '127.0.0.1', String(r2), '127.0.0.1'], /ready/));
  }
  log(`mizzen data plane quick bench: ${rps} rps, 4 connections, 1 KB, ${seconds}s (+${values.warmup}s warmup), ${mtls ? 'mTLS' : 'plaintext'} between proxies; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const direct = await runLoad(backendPort);
  const floor = values.floor ? await runLoad(relayPort, relays.map((r) => r.pid!)) : undefined;
  const proxied = await runLoad(outPort, [clientProxy.pid!, serverProxy.pid!]);
  const rss = [rssMb(clientProxy.pid!), rssMb(serverProxy.pid!)];
  const f = (n: number) => n.toFixed(3);
  const row = (name: string, r: LoadResult) => log(`| ${name} | ${f(r.p50_ms)} | ${f(r.p90_ms)} | ${f(r.p99_ms)} | ${f(r.p90_ms - direct.p90_ms)} | ${r.cpuSteady.length ? r.cpuSteady.map(f).join(' / ') : ''} | ${r.cpuAll.length ? r.cpuAll.map(f).join(' / ') : ''} | ${r.achieved_rps.toFixed(0)} | ${r.errors} |`);
  log('| path | P50 ms | P90 ms | P99 ms | added P90 ms | vCPU per 1,000 rps after warm-up (client / server) | with warm-up | achieved rps | errors |');
  log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  row('direct', direct);
  if (floor) row('2 byte relays', floor);
  row('2 proxies', proxied);
  log(`added P50/P90/P99 ms: ${f(proxied.p50_ms - direct.p50_ms)} / ${f(proxied.p90_ms - direct.p90_ms)} / ${f(proxied.p99_ms - direct.p99_ms)}`);
  log(`CPU per 1,000 rps (vCPU, includes warmup): client proxy ${proxied.cpuAll[0].toFixed(3)}, server proxy ${proxied.cpuAll[1].toFixed(3)}`);
  log(`RSS: client proxy ${rss[0].toFixed(1)} MB, server proxy ${rss[1].toFixed(1)} MB`);
  for (const r of relays) r.kill('SIGTERM');
  for (const c of [clientProxy, serverProxy]) c.kill('SIGTERM');
  backend.kill('SIGTERM');
  await Promise.all([clientProxy, serverProxy, backend, ...relays].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  await serverAds.stop();
  await clientAds.stop();
}

await main();
