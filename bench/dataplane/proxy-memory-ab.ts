/**
 * `node bench/dataplane/proxy-memory-ab.ts --variant A=/path/to/repo [--variant B=/repo,--node-flag ...]
 *   [--pairs 3] [--seconds 8] [--rps 1000] [--idle-seconds 4]`
 *
 * Proxy memory A/B, interleaved: for each pair round and each variant (order reversed every other
 * round, ABBA), start a client and a server sidecar (`mizzen proxy sidecar` from that variant's
 * checkout, with its node flags) on loopback against static xDS (as bench/dataplane-quick.ts, mTLS
 * between them), read RSS / anonymous RSS / PSS of each proxy idle (after `--idle-seconds`) and at
 * the end of `--seconds` of constant-rate HTTP/1.1 load (1 KB, 4 connections), plus CPU per
 * 1,000 rps; then stop them. Prints one line per run and a table of medians per variant. No root
 * needed. RSS counts the node binary's file-backed pages (shared between processes); anon is the
 * private part.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { EnvoyCodec } from '../../src/data/xds-client/envoy-codec.ts';
import { TestAdsServer } from '../../test/proxy/support/test-ads-server.ts';
import { address, DOWNSTREAM_TLS, hcm, route, routeConfig, staticCluster, UPSTREAM_TLS, vhost } from '../../test/proxy/support/envoy-builders.ts';
import { issue, makeCa } from '../../test/proxy/support/test-pki.ts';
import { cpuSeconds, memoryMb, type MemoryMb } from './process-stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    pairs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    rps: { type: 'string', default: '1000' },
    'idle-seconds': { type: 'string', default: '4' },
  },
});
const log = (s: string): void => void process.stdout.write(`${s}\n`);

interface Variant {
  name: string;
  repo: string;
  nodeFlags: string[];
}

const variants: Variant[] = (values.variant.length ? values.variant : [`current=${join(here, '..', '..')}`]).map((v) => {
  const eq = v.indexOf('=');
  const [repo, ...nodeFlags] = v.slice(eq + 1).split(',');
  return { name: v.slice(0, eq), repo, nodeFlags };
});

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
    const t = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${out}`)), 30_000);
    const on = (d: Buffer): void => {
      out += d;
      if (readyText.test(out)) {
        clearTimeout(t);
        resolve(c);
      }
    };
    c.stdout!.on('data', on);
    c.stderr!.on('data', on);
    c.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)));
  });
}

function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  return exited;
}

function runLoad(port: number, seconds: number, rps: number): Promise<{ achieved_rps: number; errors: number; p90_ms: number }> {
  return new Promise((resolve, reject) => {
    const args = { host: '127.0.0.1', port, rps, connections: 4, seconds, warmupSeconds: 2, payloadBytes: 1024, path: '/bench', hostHeader: 'server.default.svc.cluster.local:9080' };
    const c = spawn(process.execPath, [join(here, 'load-generator.ts'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}: ${out}`))));
  });
}

async function pathWorks(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    s.setTimeout(2000, () => s.destroy());
    let d = '';
    s.on('data', (c) => (d += c));
    s.on('close', () => resolve(d.startsWith('HTTP/1.1 200')));
    s.on('error', () => resolve(false));
  });
}

const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });

interface Result {
  variant: string;
  idle: MemoryMb[];
  load: MemoryMb[];
  cpu: number[];
  errors: number;
  load1: number;
}

async function main(): Promise<void> {
  const codec = new EnvoyCodec();
  const backendPort = await freePort();
  const inPort = await freePort();
  const outPort = await freePort();
  const backend = await start([join(here, 'http-backend.ts'), String(backendPort), '127.0.0.1'], /ready/);
  const ca = await makeCa('bench-root');
  const serverCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/server');
  const clientCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/client');
  const secret = (name: string, c: { certPem: string; keyPem: string }) => ({ name, tlsCertificate: { certificateChain: { inlineString: c.certPem }, privateKey: { inlineString: c.keyPem } } });
  const rootSecret = { name: 'bench-root', validationContext: { trustedCa: { inlineString: ca.certPem } } };
  const common = { tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_3' }, tlsCertificateSdsSecretConfigs: [SDS('bench-cert')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/' }] }, validationContextSdsSecretConfig: SDS('bench-root') } };
  const alpn = ['istio-peer-exchange', 'istio'];
  const serverAds = new TestAdsServer(codec);
  await serverAds.start();
  serverAds.set(TYPE_URL.cluster, [staticCluster('inbound|9080||', [['127.0.0.1', backendPort]])]);
  serverAds.set(TYPE_URL.listener, [{ name: 'virtualInbound', address: address('127.0.0.1', inPort), filterChains: [{ transportSocket: { name: 'tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: { ...common, alpnProtocols: alpn } } }, filters: [hcm('inbound|9080||')] }] }]);
  serverAds.set(TYPE_URL.route, [routeConfig('inbound|9080||', [vhost('inbound', ['*'], [route({ prefix: '/' }, { cluster: 'inbound|9080||', timeout: { seconds: 0 } })])])]);
  serverAds.set(TYPE_URL.secret, [secret('bench-cert', serverCert), rootSecret]);
  const clientAds = new TestAdsServer(codec);
  await clientAds.start();
  clientAds.set(TYPE_URL.cluster, [staticCluster('outbound|9080||server.default.svc.cluster.local', [['127.0.0.1', inPort]], { transportSocket: { name: 'tls', typedConfig: { '@type': UPSTREAM_TLS, commonTlsContext: { ...common, alpnProtocols: alpn } } } })]);
  clientAds.set(TYPE_URL.listener, [{ name: '0.0.0.0_9080', address: address('127.0.0.1', outPort), filterChains: [{ filters: [hcm('9080')] }] }]);
  clientAds.set(TYPE_URL.route, [routeConfig('9080', [vhost('server', ['*'], [route({ prefix: '/' }, { cluster: 'outbound|9080||server.default.svc.cluster.local', timeout: { seconds: 0 } })])])]);
  clientAds.set(TYPE_URL.secret, [secret('bench-cert', clientCert), rootSecret]);

  const seconds = Number(values.seconds);
  const rps = Number(values.rps);
  const results: Result[] = [];
  const f1 = (n: number): string => n.toFixed(1);
  try {
    for (let pair = 0; pair < Number(values.pairs); pair++) {
      const order = pair % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const args = (ads: TestAdsServer, pod: string): string[] => [...v.nodeFlags, join(v.repo, 'bin', 'mizzen.js'), 'proxy', 'sidecar', '--discovery', ads.address, '--no-ca', '--admin-port', '0', '--readiness-port', 'none', '--prometheus-port', '0', '--merged-metrics-port', 'none', '--ip', '127.0.0.1', '--pod', pod, '--namespace', 'default'];
        const proxies = [await start(args(clientAds, 'client'), /admin/, { MIZZEN_LOG: 'warn' }), await start(args(serverAds, 'server'), /admin/, { MIZZEN_LOG: 'warn' })];
        try {
          for (let i = 0; !(await pathWorks(outPort)); i++) {
            if (i > 400) throw new Error('proxied path never became ready');
            await new Promise((r) => setTimeout(r, 50));
          }
          await new Promise((r) => setTimeout(r, Number(values['idle-seconds']) * 1000));
          const idle = proxies.map((p) => memoryMb(p.pid!));
          const cpu0 = proxies.map((p) => cpuSeconds(p.pid!));
          const t0 = performance.now();
          const out = await runLoad(outPort, seconds, rps);
          const wall = (performance.now() - t0) / 1000;
          const load = proxies.map((p) => memoryMb(p.pid!));
          const cpu = proxies.map((p, i) => (cpuSeconds(p.pid!) - cpu0[i]) / wall / (out.achieved_rps / 1000));
          const r: Result = { variant: v.name, idle, load, cpu, errors: out.errors, load1: loadavg()[0] };
          results.push(r);
          const m = (x: MemoryMb): string => `${f1(x.rss)}/${f1(x.anon)}/${f1(x.pss)}`;
          log(`pair ${pair + 1} ${v.name.padEnd(12)} idle rss/anon/pss client ${m(idle[0])} server ${m(idle[1])} | ${rps} rps: client ${m(load[0])} server ${m(load[1])} | cpu/1k rps ${cpu.map((c) => c.toFixed(3)).join(' / ')} | errors ${out.errors} | load ${r.load1.toFixed(2)}`);
        } finally {
          await Promise.all(proxies.map(stop));
        }
      }
    }
  } finally {
    await stop(backend);
    await serverAds.stop();
    await clientAds.stop();
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  log('');
  log(`medians over ${values.pairs} interleaved runs (client / server proxy), MB and vCPU per 1,000 rps:`);
  log('| variant | idle RSS | idle anon | idle PSS | RSS under load | anon under load | PSS under load | CPU per 1,000 rps |');
  log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const v of variants) {
    const rs = results.filter((r) => r.variant === v.name);
    const col = (get: (r: Result, i: number) => number, d = 1): string => [0, 1].map((i) => median(rs.map((r) => get(r, i))).toFixed(d)).join(' / ');
    log(`| ${v.name} | ${col((r, i) => r.idle[i].rss)} | ${col((r, i) => r.idle[i].anon)} | ${col((r, i) => r.idle[i].pss)} | ${col((r, i) => r.load[i].rss)} | ${col((r, i) => r.load[i].anon)} | ${col((r, i) => r.load[i].pss)} | ${col((r, i) => r.cpu[i], 3)} |`);
  }
}

await main();
