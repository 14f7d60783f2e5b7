/**
 * A client sidecar and a server sidecar (`mizzen proxy sidecar` from a given checkout) on loopback
 * with static xDS from in-process ADS servers, mTLS (ISTIO_MUTUAL-shaped, TLS 1.3, ALPN istio)
 * between them, in front of a given backend port: the path of bench/dataplane-quick.ts, as a
 * reusable piece for A/B runs (several pairs of different checkouts at once).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { EnvoyCodec } from '../../src/data/xds-client/envoy-codec.ts';
import { TestAdsServer } from '../../test/proxy/support/test-ads-server.ts';
import { address, DOWNSTREAM_TLS, hcm, route, routeConfig, staticCluster, UPSTREAM_TLS, vhost } from '../../test/proxy/support/envoy-builders.ts';
import { issue, makeCa } from '../../test/proxy/support/test-pki.ts';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Spawn `node args` and resolve once its output matches `readyText`. */
export function startProcess(args: string[], readyText: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    const t = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${out}`)), 30_000);
    const on = (d: Buffer): void => {
      if (out.length < 65536) out += d;
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

export function stopProcess(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  return exited;
}

export interface LoopbackPair {
  /** Where the load generator connects (the client sidecar's outbound listener). */
  port: number;
  client: ChildProcess;
  server: ChildProcess;
  stop(): Promise<void>;
}

const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });

/** HCM fields istiod sets on every sidecar listener that change the request path (meshConfig pathNormalization BASE). */
const ISTIOD_HCM = { normalizePath: { value: true }, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };

/** Start a sidecar pair from checkout `repo` (its bin/mizzen.js) with extra node flags, and wait until the path answers. */
export async function startLoopbackPair(repo: string, backendPort: number, nodeFlags: string[] = []): Promise<LoopbackPair> {
  const codec = new EnvoyCodec();
  const inPort = await freePort();
  const outPort = await freePort();
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
  serverAds.set(TYPE_URL.listener, [{ name: 'virtualInbound', address: address('127.0.0.1', inPort), filterChains: [{ transportSocket: { name: 'tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: { ...common, alpnProtocols: alpn } } }, filters: [hcm('inbound|9080||', ISTIOD_HCM)] }] }]);
  serverAds.set(TYPE_URL.route, [routeConfig('inbound|9080||', [vhost('inbound', ['*'], [route({ prefix: '/' }, { cluster: 'inbound|9080||', timeout: { seconds: 0 } })])])]);
  serverAds.set(TYPE_URL.secret, [secret('bench-cert', serverCert), rootSecret]);
  const clientAds = new TestAdsServer(codec);
  await clientAds.start();
  clientAds.set(TYPE_URL.cluster, [staticCluster('outbound|9080||server.default.svc.cluster.local', [['127.0.0.1', inPort]], { transportSocket: { name: 'tls', typedConfig: { '@type': UPSTREAM_TLS, commonTlsContext: { ...common, alpnProtocols: alpn } } } })]);
  clientAds.set(TYPE_URL.listener, [{ name: '0.0.0.0_9080', address: address('127.0.0.1', outPort), filterChains: [{ filters: [hcm('9080', ISTIOD_HCM)] }] }]);
  clientAds.set(TYPE_URL.route, [routeConfig('9080', [vhost('server', ['*'], [route({ prefix: '/' }, { cluster: 'outbound|9080||server.default.svc.cluster.local', timeout: { seconds: 0 } })])])]);
  clientAds.set(TYPE_URL.secret, [secret('bench-cert', clientCert), rootSecret]);
  const args = (ads: TestAdsServer, pod: string): string[] => [...nodeFlags, join(repo, 'bin', 'mizzen.js'), 'proxy', 'sidecar', '--discovery', ads.address, '--no-ca', '--admin-port', '0', '--readiness-port', 'none', '--prometheus-port', 'none', '--ip', '127.0.0.1', '--pod', pod, '--namespace', 'default'];
  const server = await startProcess(args(serverAds, 'server'), /admin/, { MIZZEN_LOG: 'warn' });
  const client = await startProcess(args(clientAds, 'client'), /admin/, { MIZZEN_LOG: 'warn' });
  const stop = async (): Promise<void> => {
    await Promise.all([stopProcess(client), stopProcess(server)]);
    await serverAds.stop();
    await clientAds.stop();
  };
  try {
    for (let i = 0; !(await pathWorks(outPort)); i++) {
      if (i > 400) throw new Error('proxied path never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { port: outPort, client, server, stop };
}

function pathWorks(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    let d = '';
    s.on('data', (c) => (d += c));
    s.on('close', () => resolve(d.startsWith('HTTP/1.1 200')));
    s.on('error', () => resolve(false));
  });
}
