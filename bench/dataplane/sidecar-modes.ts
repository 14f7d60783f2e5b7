/**
 * Istio's sidecar modes for the data-plane benchmark: the real `mizzen discovery` (with its CA)
 * describes the two pods (Pod + Service objects in its config dir), `mizzen proxy sidecar` runs in
 * each injected pod's namespace as uid/gid 1337 behind istio-init's capture rules (H8's
 * renderCaptureRules), and the load generator (root, so captured) connects to the server pod IP
 * with the Service's host name, as an app would.
 *
 * Discovery runs in the client pod's namespace (the pods have no other network): the client pod's
 * capture leaves its ports alone, the client sidecar reaches it on 127.0.0.1, the server sidecar
 * on the client pod IP (uid 1337 traffic is never captured).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { renderCaptureRules, PROXY_GID, PROXY_UID } from '../../src/runtime/capture-rules.ts';
import type { NetnsPair } from './netns-pair.ts';
import { spawnInNetns, runInNetns, type Started } from './spawn-in-netns.ts';
import { BACKEND_PORT, FORTIO_PORT, type Mode, type ModeSetup } from './dataplane-bench.ts';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'bin', 'mizzen.js');
const node = process.execPath;
const SERVICE_HOST = 'server.default.svc.cluster.local';
const DISCOVERY_PORTS = [15010, 15012, 15014];

export interface SidecarModeOptions {
  name: string;
  clientSidecar: boolean;
  serverSidecar: boolean;
  mtls: boolean;
  /** CPU list the proxies start on (taskset -c; the benchmark re-pins them per pinning). */
  cpu?: string;
  /** Extra node flags for the proxies (e.g. --cpu-prof ...). */
  nodeFlags?: () => string[];
  /** The proxies' CLI (bin/mizzen.js of another checkout, for A/B runs); default this checkout's. */
  proxyCli?: string;
  /** Extra environment for the proxies. */
  env?: Record<string, string>;
  /**
   * Tracing at this sampling percentage (mesh-wide Telemetry, Zipkin provider); spans go to a
   * sink in the client pod (POST → 202), so the collector's own cost is not the proxies'.
   */
  tracingPercent?: number;
}

/** A Zipkin-shaped span sink for the tracing modes: answers 202 and counts spans. */
const SPAN_SINK = `let n=0;require('http').createServer((q,r)=>{let b='';q.on('data',c=>b+=c);q.on('end',()=>{try{n+=JSON.parse(b).length}catch{}r.writeHead(202).end()})}).listen(9411,'0.0.0.0',()=>console.log('sink ready'));process.on('SIGTERM',()=>{console.error('spans '+n);process.exit(0)});`;

function pod(name: string, ip: string, injected: boolean): Record<string, unknown> {
  const labels: Record<string, string> = { app: name };
  if (injected) labels['security.istio.io/tlsMode'] = 'istio';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels },
    spec: { serviceAccountName: name, nodeName: 'bench', containers: [{ name, image: 'bench', ports: [{ containerPort: BACKEND_PORT }, { containerPort: FORTIO_PORT }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function meshConfig(pair: NetnsPair, o: SidecarModeOptions): string {
  const docs: Record<string, unknown>[] = [
    pod('client', pair.clientIp, o.clientSidecar),
    pod('server', pair.serverIp, o.serverSidecar),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'server', namespace: 'default' },
      spec: { clusterIP: '10.96.254.10', selector: { app: 'server' }, ports: [
          { name: 'http', port: BACKEND_PORT, targetPort: BACKEND_PORT },
          { name: 'http-fortio', port: FORTIO_PORT, targetPort: FORTIO_PORT },
        ],
      },
    },
  ];
  if (o.tracingPercent !== undefined) {
    // the sink runs in the client pod's namespace: a ServiceEntry for the collector's host at that pod IP
    docs.push(
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'zipkin', namespace: 'istio-system' }, spec: { hosts: ['zipkin.istio-system.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 9411, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: pair.clientIp }] } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'extensionProviders:\n- name: zipkin\n  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}\n' } },
      { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'mesh-default', namespace: 'istio-system' }, spec: { tracing: [{ providers: [{ name: 'zipkin' }], randomSamplingPercentage: o.tracingPercent }] } },
    );
  }
  if (!o.mtls) {
    docs.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'istio-system' },
      spec: { mtls: { mode: 'DISABLE' } },
    });
    docs.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'server', namespace: 'default' },
      spec: { host: SERVICE_HOST, trafficPolicy: { tls: { mode: 'DISABLE' } } },
    });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

function nft(ns: string, script: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** One request from the client pod (as root: captured) until the path answers 200. */
async function waitForPath(pair: NetnsPair, deadlineMs: number): Promise<void> {
  const probe = `const s=require('net').connect(8080,'${pair.serverIp}',()=>s.write('GET /ready HTTP/1.1\\r\\nhost: ${SERVICE_HOST}:8080\\r\\nconnection: close\\r\\n\\r\\n'));let d='';s.on('data',c=>d+=c);s.on('close',()=>{if(d.startsWith('HTTP/1.1 200'))process.exit(0);process.stderr.write(d.slice(0,300)||'no response');process.exit(1)});s.on('error',(e)=>{process.stderr.write(String(e));process.exit(1)});setTimeout(()=>process.exit(1),2000);`;
  const until = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < until) {
    try {
      await runInNetns(pair.client, [node, '-e', probe]);
      return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the proxied path never answered 200: ${last}`);
}

export function sidecarMode(o: SidecarModeOptions): Mode {
  return {
    name: o.name,
    async setup(pair: NetnsPair): Promise<ModeSetup> {
      const work = mkdtempSync(join(tmpdir(), `mzb-${o.name}-`));
      chmodSync(work, 0o755); // the sidecars (uid 1337) read their token files here
      const configDir = join(work, 'config');
      const caDir = join(work, 'ca');
      mkdirSync(configDir);
      writeFileSync(join(configDir, 'mesh.yaml'), meshConfig(pair, o));
      // The sidecars (uid 1337) cannot write the CLI's type-stripped cache: fill it first.
      execFileSync(node, [join(here, '..', '..', 'bin', 'strip-cache.js')], { stdio: 'ignore' });
      if (o.proxyCli) execFileSync(node, [join(dirname(o.proxyCli), 'strip-cache.js')], { stdio: 'ignore' });
      const started: Started[] = [];
      const captured: string[] = [];
      const stop = async (): Promise<void> => {
        for (const s of started.reverse()) await s.stop();
        for (const ns of captured) {
          try {
            nft(ns, 'table inet mizzen_capture\ndelete table inet mizzen_capture\n');
          } catch {
            // namespace already gone
          }
        }
        rmSync(work, { recursive: true, force: true });
      };
      try {
        const discovery = await spawnInNetns(
          pair.client,
          [node, cli, 'discovery', '--config', configDir, '--ca-dir', caDir, '--grpc-addr', '0.0.0.0:15010', '--secure-grpc-addr', '0.0.0.0:15012', '--http-addr', '127.0.0.1:15014'],
          { readyText: 'xDS+TLS', env: { ...process.env, MIZZEN_LOG: 'warn' }, cpu: '0' },
        );
        started.push(discovery);
        if (o.tracingPercent !== undefined) started.push(await spawnInNetns(pair.client, [node, '-e', SPAN_SINK], { readyText: 'sink ready', cpu: '0' }));
        const sidecars: Started[] = [];
        const pods: ('client' | 'server')[] = [];
        for (const [podName, ns, ip, injected] of [
          ['client', pair.client, pair.clientIp, o.clientSidecar],
          ['server', pair.server, pair.serverIp, o.serverSidecar],
        ] as const) {
          if (!injected) continue;
          const token = execFileSync(node, [cli, 'token', '--ca-dir', caDir, '--namespace', 'default', '--service-account', podName], { encoding: 'utf8' }).trim();
          const tokenFile = join(work, `${podName}-token`);
          writeFileSync(tokenFile, token, { mode: 0o600 });
          chownSync(tokenFile, PROXY_UID, PROXY_GID);
          const discoveryAddr = podName === 'client' ? '127.0.0.1:15010' : `${pair.clientIp}:15010`;
          const argv = [
            'setpriv', '--reuid', String(PROXY_UID), '--regid', String(PROXY_GID), '--clear-groups',
            node, ...(o.nodeFlags?.() ?? []), o.proxyCli ?? cli, 'proxy', 'sidecar', '--discovery', discoveryAddr, '--token-file', tokenFile,
            '--ip', ip, '--pod', podName, '--namespace', 'default', '--service-account', podName, '--labels', `app=${podName}`,
          ];
          const env = { ...process.env, MIZZEN_LOG: process.env.MIZZEN_BENCH_PROXY_LOG ?? 'warn', ...o.env };
          const proxy = await spawnInNetns(ns, argv, { readyText: 'admin 127.0.0.1', env, cpu: o.cpu ?? '0' });
          started.push(proxy);
          sidecars.push(proxy);
          pods.push(podName);
          nft(ns, renderCaptureRules(podName === 'client' ? { excludeInboundPorts: DISCOVERY_PORTS } : {}));
          captured.push(ns);
        }
        try {
          await waitForPath(pair, 60_000); // generous: at load average 20–30 the server sidecar's first ADS stream has been seen reset (ECONNRESET) and retried late
        } catch (err) {
          throw new Error(`${(err as Error).message}\n${sidecars.map((p, i) => `${pods[i]} sidecar stderr: ${p.stderrTail()}`).join('\n')}\ndiscovery stderr: ${discovery.stderrTail()}`);
        }
        // spawnInNetns reports the `taskset`/`ip` wrapper's pid; exec keeps it the proxy's own.
        return {
          target: { host: pair.serverIp, port: BACKEND_PORT, hostHeader: `${SERVICE_HOST}:${BACKEND_PORT}` },
          fortioTarget: { host: pair.serverIp, port: FORTIO_PORT, hostHeader: `${SERVICE_HOST}:${FORTIO_PORT}` },
          proxies: sidecars,
          proxyPods: pods,
          stop,
        };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

export const sidecarModes = (extra: Partial<SidecarModeOptions> = {}): Mode[] => [
  sidecarMode({ name: 'sidecar', clientSidecar: true, serverSidecar: true, mtls: true, ...extra }),
  // Istio's tracing cost: the same pair with a Zipkin tracer at 1 % (Istio's default sampling) and 100 %
  sidecarMode({ name: 'sidecar-trace1', clientSidecar: true, serverSidecar: true, mtls: true, tracingPercent: 1, ...extra }),
  sidecarMode({ name: 'sidecar-trace100', clientSidecar: true, serverSidecar: true, mtls: true, tracingPercent: 100, ...extra }),
  sidecarMode({ name: 'sidecar-nomtls', clientSidecar: true, serverSidecar: true, mtls: false, ...extra }),
  sidecarMode({ name: 'client-sidecar', clientSidecar: true, serverSidecar: false, mtls: true, ...extra }),
  sidecarMode({ name: 'server-sidecar', clientSidecar: false, serverSidecar: true, mtls: true, ...extra }),
];
