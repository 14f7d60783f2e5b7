/**
 * `node bench/dataplane-quick.ts [--seconds 10] [--rps 1000] [--plaintext]`: the data plane hot
 * path on loopback, no root needed. load generator → client sidecar (mizzen proxy) → mTLS →
 * server sidecar (mizzen proxy) → 1 KB HTTP backend, against load generator → backend directly,
 * in the same run (Istio's recipe: HTTP/1.1, 1 KB, 4 connections, fixed rate). Prints added
 * P50/P90/P99, CPU per 1,000 rps and RSS per proxy. Profile with MIZZEN_BENCH_PROF=1 (the
 * proxies write --cpu-prof files to $TMPDIR/mizzen-bench-prof/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
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
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rps: { type: 'string', default: '1000' }, plaintext: { type: 'boolean', default: false }, warmup: { type: 'string', default: '2' } } });
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
  });
}

function runLoad(port: number): Promise<{ p50_ms: number; p90_ms: number; p99_ms: number; achieved_rps: number; errors: number; ok: number }> {
  return new Promise((resolve, reject) => {
    const args = { host: '127.0.0.1', port, rps, connections: 4, seconds, warmupSeconds: Number(values.warmup), payloadBytes: 1024, path: '/bench', hostHeader: 'server.default.svc.cluster.local:9080' };
    const c = spawn(process.execPath, [join(here, 'dataplane', 'load-generator.ts'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}: ${out}`))));
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

  const prof = process.env.MIZZEN_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', join(tmpdir(), 'mizzen-bench-prof')] : [];
  const proxyArgs = (ads: TestAdsServer, pod: string) => [...prof, join(root, 'bin', 'mizzen.js'), 'proxy', 'sidecar', '--discovery', ads.address, '--no-ca', '--admin-port', '0', '--readiness-port', 'none', '--prometheus-port', 'none', '--ip', '127.0.0.1', '--pod', pod, '--namespace', 'default'];
  const serverProxy = await start(proxyArgs(serverAds, 'server'), /admin/, { MIZZEN_LOG: 'warn' });
  const clientProxy = await start(proxyArgs(clientAds, 'client'), /admin/, { MIZZEN_LOG: 'warn' });
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
  log(`mizzen data plane quick bench: ${rps} rps, 4 connections, 1 KB, ${seconds}s (+${values.warmup}s warmup), ${mtls ? 'mTLS' : 'plaintext'} between proxies`);
  const direct = await runLoad(backendPort);
  const cpu0 = [cpuSeconds(clientProxy.pid!), cpuSeconds(serverProxy.pid!)];
  const t0 = performance.now();
  const proxied = await runLoad(outPort);
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = [cpuSeconds(clientProxy.pid!), cpuSeconds(serverProxy.pid!)];
  const rss = [rssMb(clientProxy.pid!), rssMb(serverProxy.pid!)];
  const perK = (i: number) => ((cpu1[i] - cpu0[i]) / wall) / (proxied.achieved_rps / 1000);
  const f = (n: number) => n.toFixed(3);
  log('| path | P50 ms | P90 ms | P99 ms | achieved rps | errors |');
  log('| --- | --- | --- | --- | --- | --- |');
  log(`| direct | ${f(direct.p50_ms)} | ${f(direct.p90_ms)} | ${f(direct.p99_ms)} | ${direct.achieved_rps.toFixed(0)} | ${direct.errors} |`);
  log(`| 2 proxies | ${f(proxied.p50_ms)} | ${f(proxied.p90_ms)} | ${f(proxied.p99_ms)} | ${proxied.achieved_rps.toFixed(0)} | ${proxied.errors} |`);
  log(`| added | ${f(proxied.p50_ms - direct.p50_ms)} | ${f(proxied.p90_ms - direct.p90_ms)} | ${f(proxied.p99_ms - direct.p99_ms)} | | |`);
  log(`CPU per 1,000 rps (vCPU, includes warmup): client proxy ${perK(0).toFixed(3)}, server proxy ${perK(1).toFixed(3)}`);
  log(`RSS: client proxy ${rss[0].toFixed(1)} MB, server proxy ${rss[1].toFixed(1)} MB`);
  for (const c of [clientProxy, serverProxy]) c.kill('SIGTERM');
  backend.kill('SIGTERM');
  await Promise.all([clientProxy, serverProxy, backend].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  await serverAds.stop();
  await clientAds.stop();
}

await main();
