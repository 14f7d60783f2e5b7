/**
 * Ambient modes for the data-plane benchmark: the client and server pods enrolled in ambient
 * mode (Istio's in-pod rules, ZDS from this process with each pod's netns fd), `mizzen proxy
 * ztunnel` carrying the connection over HBONE (mutual TLS with the pods' own certificates from
 * the real discovery CA). `ztunnel`: one ztunnel serves both pods (Istio's anchor: one node);
 * `ztunnel-2node`: each pod has its own ztunnel (two nodes); `ztunnel-100pods`: as `ztunnel`, with
 * 98 more pods enrolled on the same ztunnel (each its own network namespace, address, service
 * account and Service; no traffic), for the ztunnel's memory with 100 pods. `istio-ztunnel` and
 * `istio-ztunnel-1t`: as `ztunnel`, with Istio's own ztunnel (the Rust binary scripts/ztunnel.sh
 * builds) as the node's ztunnel on the same discovery, CA and ZDS, configured as `mizzen up
 * --ztunnel-binary` runs it, with its default 2 worker threads or ZTUNNEL_WORKER_THREADS=1 (the
 * same-run anchor; skipped when the binary is absent). Discovery and the ztunnels run in
 * the client pod's namespace (Istio's ztunnel: in one of its own) and talk over 127.0.0.1 (never
 * captured); a ztunnel reaches the pods
 * only through the namespaces it enters.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { inpodRouteCommands, inpodRouteRemovalCommands, renderInpodRules } from '../../src/runtime/inpod-rules.ts';
import { ZdsServer } from '../../src/runtime/zds-server.ts';
import { istioZtunnelEnv } from '../../src/runtime/ztunnel-process.ts';
import type { NetnsPair } from './netns-pair.ts';
import { spawnInNetns, runInNetns, type Started } from './spawn-in-netns.ts';
import { FORTIO_PORT, type Mode, type ModeSetup } from './dataplane-bench.ts';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'bin', 'mizzen.js');
const node = process.execPath;

function pod(name: string, ns: string, ip: string, nodeName: string, sa: string, uid: string, annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, uid, labels: { app: name }, annotations },
    spec: { serviceAccountName: sa, nodeName, containers: [{ name, image: 'bench', ports: [{ containerPort: 8080 }, { containerPort: FORTIO_PORT }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** Idle pods of `ztunnel-100pods`: 98 beside the client and server pods. */
const EXTRA_PODS = 98;

/** The extra pods' network namespaces (the pod's address on lo, in the guarded pod CIDR; no dummy link driver on every kernel). */
function createIdlePods(pair: NetnsPair, count: number): { names: string[]; ips: string[]; destroy(): void } {
  const tag = pair.client.replace(/-c$/, '');
  const names: string[] = [];
  const ips: string[] = [];
  const destroy = (): void => {
    for (const ns of names) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  };
  try {
    for (let i = 0; i < count; i++) {
      const ns = `${tag}-p${i}`;
      const ip = `10.244.253.${i + 1}`;
      execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
      names.push(ns);
      ips.push(ip);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
      execFileSync('ip', ['-n', ns, 'addr', 'add', `${ip}/32`, 'dev', 'lo'], { stdio: 'ignore' });
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { names, ips, destroy };
}

/** Where scripts/ztunnel.sh leaves Istio's ztunnel. */
export const ISTIO_ZTUNNEL_BINARY = '/var/cache/mizzen/ztunnel/ztunnel';

/** Istio's ztunnel as the node's ztunnel: the binary and its tokio worker threads (ZTUNNEL_WORKER_THREADS; Istio's default 2). */
export interface IstioZtunnel {
  binary: string;
  workerThreads: number;
}

export function ztunnelMode(name: 'ztunnel' | 'ztunnel-2node' | 'ztunnel-100pods' | 'istio-ztunnel' | 'istio-ztunnel-1t', istio?: IstioZtunnel): Mode {
  const twoNodes = name === 'ztunnel-2node';
  const extraPods = name === 'ztunnel-100pods' ? EXTRA_PODS : 0;
  return {
    name,
    skipReason: () => (istio && !existsSync(istio.binary) ? `Istio's ztunnel is not built (${istio.binary}): scripts/ztunnel.sh SRC_DIR builds it from an istio/ztunnel checkout` : false),
    async setup(pair: NetnsPair): Promise<ModeSetup> {
      const work = mkdtempSync(join(tmpdir(), `mzb-${name}-`));
      const configDir = join(work, 'config');
      const caDir = join(work, 'ca');
      mkdirSync(configDir);
      const nodes = twoNodes ? ['node-a', 'node-b'] : ['node-a'];
      const enabled = { 'ambient.istio.io/redirection': 'enabled' };
      const idle = createIdlePods(pair, extraPods);
      const idleDocs = idle.ips.flatMap((ip, i) => [
        pod(`idle-${i}`, 'default', ip, nodes[0]!, `idle-${i}`, `uid-idle-${i}`, enabled),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: `idle-${i}`, namespace: 'default' }, spec: { clusterIP: `10.96.253.${i + 1}`, selector: { app: `idle-${i}` }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } },
      ]);
      const docs = [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
        pod('client', 'default', pair.clientIp, nodes[0]!, 'client', 'uid-client', enabled),
        pod('server', 'default', pair.serverIp, nodes[nodes.length - 1]!, 'server', 'uid-server', enabled),
        ...nodes.map((n) => pod(`ztunnel-${n}`, 'istio-system', '127.0.0.1', n, 'ztunnel', `uid-ztunnel-${n}`)),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'server', namespace: 'default' }, spec: { clusterIP: '10.96.254.10', selector: { app: 'server' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }, { name: 'http-fortio', port: FORTIO_PORT, targetPort: FORTIO_PORT }] } },
        ...idleDocs,
      ];
      writeFileSync(join(configDir, 'mesh.yaml'), docs.map((d) => stringify(d)).join('---\n'));
      // Istio's ztunnel listens on 15008 in its own namespace too (its self-proxy, for the
      // ztunnel's own identity), so it cannot share an enrolled pod's: it gets one of its own,
      // as its DaemonSet pod has, with discovery beside it on 127.0.0.1
      const home = istio ? `${pair.client.replace(/-c$/, '')}-zt` : pair.client;
      if (istio) {
        execFileSync('ip', ['netns', 'add', home], { stdio: 'ignore' });
        execFileSync('ip', ['-n', home, 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
      }
      const started: Started[] = [];
      const zds: ZdsServer[] = [];
      const stop = async (): Promise<void> => {
        for (const s of started.reverse()) await s.stop();
        for (const z of zds) z.close();
        idle.destroy();
        if (home !== pair.client) {
          try {
            execFileSync('ip', ['netns', 'del', home], { stdio: 'ignore' });
          } catch {
            // already gone
          }
        }
        for (const ns of [pair.client, pair.server]) {
          try {
            execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'istio-ambient-nat'], { stdio: 'ignore' });
            execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'istio-ambient-mangle'], { stdio: 'ignore' });
            execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'istio-ambient-raw'], { stdio: 'ignore' });
          } catch {
            // namespace gone or tables absent
          }
          for (const args of inpodRouteRemovalCommands()) {
            try {
              execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args], { stdio: 'ignore' });
            } catch {
              // absent
            }
          }
        }
        rmSync(work, { recursive: true, force: true });
      };
      try {
        const discovery = await spawnInNetns(home, [node, cli, 'discovery', '--config', configDir, '--ca-dir', caDir, '--grpc-addr', '127.0.0.1:15010', '--secure-grpc-addr', '127.0.0.1:15012', '--http-addr', '127.0.0.1:15014'], {
          readyText: 'xDS+TLS',
          env: { ...process.env, MIZZEN_LOG: 'warn' },
          cpu: '0',
        });
        started.push(discovery);
        const ztunnels: Started[] = [];
        for (const n of nodes) {
          const z = new ZdsServer({ path: join(work, `${n}.sock`) });
          z.start();
          zds.push(z);
          const token = execFileSync(node, ['-e', `
            const { mintServiceAccountToken, loadOrCreateTokenKey } = await import(${JSON.stringify(join(here, '..', '..', 'src/control/ca/service-account-token.ts'))});
            process.stdout.write(await mintServiceAccountToken({ key: loadOrCreateTokenKey(${JSON.stringify(caDir)}).privateKey, namespace: 'istio-system', serviceAccount: 'ztunnel', pod: { name: 'ztunnel-${n}', uid: 'uid-ztunnel-${n}' } }));
          `, '--input-type=module'], { encoding: 'utf8' });
          const tokenFile = join(work, `${n}-token`);
          writeFileSync(tokenFile, token, { mode: 0o600 });
          const zt = istio
            ? await spawnIstioZtunnel(home, istio, { discoveryAddress: '127.0.0.1', caRootFile: join(caDir, 'root-cert.pem'), tokenFile, zdsSocket: z.path, nodeName: n, podName: `ztunnel-${n}`, podIp: '127.0.0.1' })
            : await spawnInNetns(pair.client, [node, cli, 'proxy', 'ztunnel', '--discovery', '127.0.0.1:15010', '--token-file', tokenFile, '--node', n, '--pod', `ztunnel-${n}`, '--zds-socket', z.path, '--admin-port', 'none', '--readiness-port', 'none', '--metrics-port', 'none'], {
                readyText: 'mizzen proxy ztunnel:',
                env: { ...process.env, MIZZEN_LOG: process.env.MIZZEN_BENCH_PROXY_LOG ?? 'warn' },
                cpu: '0',
              });
          started.push(zt);
          ztunnels.push(zt);
          if (!(await z.waitConnected(20_000))) throw new Error(`ztunnel ${n} did not connect over ZDS: ${zt.stderrTail()}`);
        }
        for (const [podName, ns, i] of [['client', pair.client, 0], ['server', pair.server, nodes.length - 1]] as const) {
          execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: renderInpodRules({}), stdio: ['pipe', 'ignore', 'pipe'] });
          for (const args of inpodRouteCommands()) execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args], { stdio: 'ignore' });
          await zds[i]!.add({ uid: `uid-${podName}`, info: { name: podName, namespace: 'default', serviceAccount: podName }, netnsPath: `/var/run/netns/${ns}` });
        }
        for (const [i, ns] of idle.names.entries()) {
          execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: renderInpodRules({}), stdio: ['pipe', 'ignore', 'pipe'] });
          for (const args of inpodRouteCommands()) execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args], { stdio: 'ignore' });
          await zds[0]!.add({ uid: `uid-idle-${i}`, info: { name: `idle-${i}`, namespace: 'default', serviceAccount: `idle-${i}` }, netnsPath: `/var/run/netns/${ns}` });
        }
        await waitForPath(pair, 30_000);
        return {
          target: { host: pair.serverIp, port: 8080, hostHeader: 'server.default.svc.cluster.local:8080' },
          fortioTarget: { host: pair.serverIp, port: FORTIO_PORT, hostHeader: `server.default.svc.cluster.local:${FORTIO_PORT}` },
          proxies: ztunnels,
          proxyPods: twoNodes ? ['client', 'server'] : ['server'],
          stop,
        };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

/**
 * Istio's ztunnel in a namespace of its own (beside discovery), with the environment `mizzen up --ztunnel-binary` gives it (discovery and CA on 127.0.0.1:15012
 * with our root, the pod-bound token, the ZDS socket), no DNS proxy (our ztunnel runs without
 * one here), and the worker-thread count asked for. Its log (RUST_LOG=info: one access-log line
 * per connection) goes to stdout, read until its configuration is printed and then discarded.
 */
function spawnIstioZtunnel(netns: string, istio: IstioZtunnel, settings: Parameters<typeof istioZtunnelEnv>[0]): Promise<Started> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...istioZtunnelEnv(settings), ISTIO_META_DNS_CAPTURE: 'false', ZTUNNEL_WORKER_THREADS: String(istio.workerThreads) };
  return spawnInNetns(netns, [istio.binary], { readyText: 'running with config', env, cpu: '0', timeoutMs: 30_000 });
}

async function waitForPath(pair: NetnsPair, deadlineMs: number): Promise<void> {
  const probe = `const s=require('net').connect(8080,'${pair.serverIp}',()=>s.write('GET /ready HTTP/1.1\\r\\nhost: server\\r\\nconnection: close\\r\\n\\r\\n'));let d='';s.on('data',c=>d+=c);s.on('close',()=>process.exit(d.startsWith('HTTP/1.1 200')?0:1));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000);`;
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    try {
      await runInNetns(pair.client, [node, '-e', probe]);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error('the ambient path never answered 200');
}

export const ztunnelModes = (o: { istioBinary?: string } = {}): Mode[] => {
  const binary = o.istioBinary ?? ISTIO_ZTUNNEL_BINARY;
  return [
    ztunnelMode('ztunnel'),
    ztunnelMode('ztunnel-2node'),
    ztunnelMode('ztunnel-100pods'),
    ztunnelMode('istio-ztunnel', { binary, workerThreads: 2 }),
    ztunnelMode('istio-ztunnel-1t', { binary, workerThreads: 1 }),
  ];
};
