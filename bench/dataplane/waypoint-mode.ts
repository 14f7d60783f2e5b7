/**
 * The waypoint mode of the data-plane benchmark: the two pods in ambient mode as in `ztunnel`
 * (one ztunnel, Istio's in-pod rules, ZDS), the server's Service bound to a waypoint
 * (`istio.io/use-waypoint`), so each request goes client → ztunnel → HBONE → `mizzen proxy
 * waypoint` (L7: HTTP parsing, routing, the request's own upstream) → HBONE → ztunnel → server.
 * The waypoint has its own network namespace ("waypoint pod", 10.244.254.10), joined to the
 * client pod by a veth (the client pod forwards between the waypoint and the server); discovery,
 * ztunnel and the waypoint run there and talk over its 127.0.0.1 (never captured).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { inpodRouteCommands, inpodRouteRemovalCommands, renderInpodRules } from '../../src/runtime/inpod-rules.ts';
import { ZdsServer } from '../../src/runtime/zds-server.ts';
import type { NetnsPair } from './netns-pair.ts';
import { spawnInNetns, runInNetns, type Started } from './spawn-in-netns.ts';
import { FORTIO_PORT, type Mode, type ModeSetup } from './dataplane-bench.ts';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'bin', 'mizzen.js');
const node = process.execPath;
const WAYPOINT_IP = '10.244.254.10';
const CLIENT_SIDE_IP = '10.244.254.9';

function pod(name: string, ip: string, sa: string, labels: Record<string, string>, annotations: Record<string, string> = {}, ns = 'default'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, uid: `uid-${name}`, labels, annotations },
    spec: { serviceAccountName: sa, nodeName: 'node-a', containers: [{ name, image: 'bench', ports: [{ containerPort: 8080 }, { containerPort: FORTIO_PORT }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function mint(caDir: string, namespace: string, sa: string, podName: string): string {
  return execFileSync(node, ['-e', `
    const { mintServiceAccountToken, loadOrCreateTokenKey } = await import(${JSON.stringify(join(here, '..', '..', 'src/control/ca/service-account-token.ts'))});
    process.stdout.write(await mintServiceAccountToken({ key: loadOrCreateTokenKey(${JSON.stringify(caDir)}).privateKey, namespace: ${JSON.stringify(namespace)}, serviceAccount: ${JSON.stringify(sa)}, pod: { name: ${JSON.stringify(podName)}, uid: 'uid-${podName}' } }));
  `, '--input-type=module'], { encoding: 'utf8' });
}

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`ip ${args.join(' ')}: ${String((err as { stderr?: Buffer }).stderr ?? '').trim()}`);
  }
}

export function waypointMode(): Mode {
  return {
    name: 'waypoint',
    async setup(pair: NetnsPair): Promise<ModeSetup> {
      const work = mkdtempSync(join(tmpdir(), 'mzb-waypoint-'));
      const configDir = join(work, 'config');
      const caDir = join(work, 'ca');
      mkdirSync(configDir);
      const wns = `${pair.client.slice(0, -2)}-w`;
      const enabled = { 'ambient.istio.io/redirection': 'enabled' };
      const gw = { 'gateway.networking.k8s.io/gateway-name': 'waypoint', 'networking.istio.io/tunnel': 'http', 'istio.io/dataplane-mode': 'none' };
      const docs = [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
        pod('client', pair.clientIp, 'client', { app: 'client' }, enabled),
        pod('server', pair.serverIp, 'server', { app: 'server' }, enabled),
        pod('waypoint', WAYPOINT_IP, 'waypoint', gw),
        pod('ztunnel-node-a', '127.0.0.1', 'ztunnel', { app: 'ztunnel' }, {}, 'istio-system'),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'server', namespace: 'default', labels: { 'istio.io/use-waypoint': 'waypoint' } }, spec: { clusterIP: '10.96.254.10', selector: { app: 'server' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }, { name: 'http-fortio', port: FORTIO_PORT, targetPort: FORTIO_PORT }] } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'waypoint', namespace: 'default', labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } }, spec: { clusterIP: '10.96.254.20', selector: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, ports: [{ name: 'mesh', port: 15008, targetPort: 15008 }] } },
        {
          apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'waypoint', namespace: 'default' },
          spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
          status: { addresses: [{ type: 'Hostname', value: 'waypoint.default.svc.cluster.local' }] },
        },
      ];
      writeFileSync(join(configDir, 'mesh.yaml'), docs.map((d) => stringify(d)).join('---\n'));
      const started: Started[] = [];
      let zds: ZdsServer | undefined;
      const stop = async (): Promise<void> => {
        for (const s of started.reverse()) await s.stop();
        zds?.close();
        for (const ns of [pair.client, pair.server]) {
          for (const t of ['istio-ambient-nat', 'istio-ambient-mangle', 'istio-ambient-raw']) {
            try {
              execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', t], { stdio: 'ignore' });
            } catch {
              // absent
            }
          }
          for (const args of inpodRouteRemovalCommands()) {
            try {
              execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args], { stdio: 'ignore' });
            } catch {
              // absent
            }
          }
        }
        try {
          ip('netns', 'del', wns);
        } catch {
          // gone
        }
        rmSync(work, { recursive: true, force: true });
      };
      try {
        // the waypoint pod: its own namespace, a veth to the client pod, routed to the server through it
        ip('netns', 'add', wns);
        ip('link', 'add', 'mzbwc', 'netns', pair.client, 'type', 'veth', 'peer', 'name', 'mzbww', 'netns', wns);
        ip('-n', pair.client, 'addr', 'add', `${CLIENT_SIDE_IP}/30`, 'dev', 'mzbwc');
        ip('-n', pair.client, 'link', 'set', 'mzbwc', 'up');
        ip('-n', wns, 'link', 'set', 'lo', 'up');
        ip('-n', wns, 'addr', 'add', `${WAYPOINT_IP}/30`, 'dev', 'mzbww');
        ip('-n', wns, 'link', 'set', 'mzbww', 'up');
        ip('-n', wns, 'route', 'add', 'default', 'via', CLIENT_SIDE_IP);
        ip('-n', pair.server, 'route', 'replace', '10.244.254.8/30', 'via', pair.clientIp);
        execFileSync('ip', ['netns', 'exec', pair.client, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'], { stdio: 'ignore' });
        // a route for the service VIPs, so the client's connect reaches capture (mizzen up routes them the same way)
        ip('-n', pair.client, 'route', 'replace', '10.96.254.0/24', 'dev', 'mzbwc');
        const discovery = await spawnInNetns(wns, [node, cli, 'discovery', '--config', configDir, '--ca-dir', caDir, '--grpc-addr', '127.0.0.1:15010', '--secure-grpc-addr', '127.0.0.1:15012', '--http-addr', '127.0.0.1:15014'], {
          readyText: 'xDS+TLS',
          env: { ...process.env, MIZZEN_LOG: 'warn' },
          cpu: '0',
        });
        started.push(discovery);
        zds = new ZdsServer({ path: join(work, 'node-a.sock') });
        zds.start();
        const ztToken = join(work, 'ztunnel-token');
        writeFileSync(ztToken, mint(caDir, 'istio-system', 'ztunnel', 'ztunnel-node-a'), { mode: 0o600 });
        const zt = await spawnInNetns(wns, [node, cli, 'proxy', 'ztunnel', '--discovery', '127.0.0.1:15010', '--token-file', ztToken, '--node', 'node-a', '--pod', 'ztunnel-node-a', '--zds-socket', zds.path, '--admin-port', 'none', '--readiness-port', 'none', '--metrics-port', 'none'], {
          readyText: 'mizzen proxy ztunnel:',
          env: { ...process.env, MIZZEN_LOG: process.env.MIZZEN_BENCH_PROXY_LOG ?? 'warn' },
          cpu: '0',
        });
        started.push(zt);
        if (!(await zds.waitConnected(20_000))) throw new Error(`ztunnel did not connect over ZDS: ${zt.stderrTail()}`);
        const wpToken = join(work, 'waypoint-token');
        writeFileSync(wpToken, mint(caDir, 'default', 'waypoint', 'waypoint'), { mode: 0o600 });
        const wp = await spawnInNetns(wns, [node, cli, 'proxy', 'waypoint', '--discovery', '127.0.0.1:15010', '--token-file', wpToken, '--ip', WAYPOINT_IP, '--pod', 'waypoint', '--namespace', 'default', '--service-account', 'waypoint', '--labels', 'gateway.networking.k8s.io/gateway-name=waypoint', '--admin-port', '0', '--readiness-port', 'none', '--prometheus-port', 'none'], {
          readyText: 'mizzen proxy waypoint',
          env: { ...process.env, MIZZEN_LOG: process.env.MIZZEN_BENCH_PROXY_LOG ?? 'warn' },
          cpu: '0',
        });
        started.push(wp);
        for (const [podName, ns] of [['client', pair.client], ['server', pair.server]] as const) {
          execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: renderInpodRules({}), stdio: ['pipe', 'ignore', 'pipe'] });
          for (const args of inpodRouteCommands()) execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args], { stdio: 'ignore' });
          await zds.add({ uid: `uid-${podName}`, info: { name: podName, namespace: 'default', serviceAccount: podName }, netnsPath: `/var/run/netns/${ns}` });
        }
        await waitForWaypointPath(pair, 30_000).catch((err: Error) => {
          throw new Error(`${err.message}\nztunnel: ${zt.stderrTail()}\nwaypoint: ${wp.stderrTail()}`);
        });
        return {
          target: { host: '10.96.254.10', port: 8080, hostHeader: 'server.default.svc.cluster.local:8080' },
          fortioTarget: { host: '10.96.254.10', port: FORTIO_PORT, hostHeader: `server.default.svc.cluster.local:${FORTIO_PORT}` },
          proxies: [zt, wp],
          proxyPods: ['server'],
          stop,
        };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

/** A request through the service VIP answered by the server with the waypoint's mark on it (an x-envoy-upstream-service-time header). */
async function waitForWaypointPath(pair: NetnsPair, deadlineMs: number): Promise<void> {
  const probe = `const s=require('net').connect(8080,'10.96.254.10',()=>s.write('GET /ready HTTP/1.1\\r\\nhost: server\\r\\nconnection: close\\r\\n\\r\\n'));let d='';s.on('data',c=>d+=c);s.on('close',()=>{if(d.startsWith('HTTP/1.1 200')&&/x-envoy-upstream-service-time/i.test(d))process.exit(0);console.error(JSON.stringify(d.slice(0,300)));process.exit(1)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000);`;
  const until = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < until) {
    try {
      await runInNetns(pair.client, [node, '-e', probe]);
      return;
    } catch (err) {
      last = String(err);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the waypoint path never answered 200 through the waypoint (${last})`);
}
