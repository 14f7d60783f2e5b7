import { readFile } from 'node:fs/promises';
import type * as net from 'node:net';
import type { Command } from 'commander';
import { createWorkloadAgent, trustedRoots, type WorkloadAgent } from '../agent/workload-agent.ts';
import { cacheSecretProvider } from '../agent/cache-secret-provider.ts';
import { FileSecretProvider } from '../agent/file-secret-provider.ts';
import { systemClock } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import { startProxyTrim } from '../lib/executable-pages.ts';
import { createLogFactory, type Logger } from '../lib/log.ts';
import { raiseOpenFilesLimit } from '../lib/open-files.ts';
import { getOriginalDestination } from '../lib/original-dst.ts';
import type { OriginalDestination } from '../data/listener/original-destination.ts';
import type { XdsTransport } from '../data/xds-client/ads-client.ts';
import type { ProxyType } from '../data/xds-client/node-identity.ts';
import { createRouter } from '../data/router.ts';
import { createSidecar } from '../data/sidecar.ts';
import { SidecarDns } from '../data/dns/sidecar-dns.ts';
import { HBONE_PORT } from '../data/hbone/hbone-settings.ts';
import { ChainedSecretProvider } from '../data/tls/secret-provider.ts';
import { Waypoint } from '../data/waypoint.ts';
import type { CliContext } from './cli-context.ts';
import { proxyConfig, type ProxyCommandConfig, type ProxyFlags } from './proxy-config.ts';
import { registerZtunnel } from './ztunnel-flags.ts';

/** SO_ORIGINAL_DST through src/lib/original-dst.ts; undefined when the socket was not redirected. */
const kernelOriginalDestination: OriginalDestination = {
  lookup(socket: net.Socket) {
    try {
      const d = getOriginalDestination(socket);
      if (!d) return undefined;
      const local = (socket.localAddress ?? '').replace(/^::ffff:/, '');
      if (d.address === local && d.port === socket.localPort) return undefined;
      return d;
    } catch {
      return undefined;
    }
  },
};

/** Istio's discovery server name (SNI, certificate check and :authority on 15012). */
const DISCOVERY_SERVER_NAME = 'istiod.istio-system.svc';

/** Plaintext without a mesh root; else TLS to istiod's name, with the token (re-read per stream) as a Bearer. */
function xdsTransport(c: ProxyCommandConfig, learntRoots: () => string | undefined): XdsTransport {
  const provisioned = c.caRootPem;
  if (!provisioned) return {};
  const tokenFile = c.tokenFile;
  return {
    // read at every (re)connect: the provisioned root plus the roots the CA last sent, so a
    // reconnect after a root rotation verifies discovery's certificate under the new root
    tls: { get rootCertPem() { return trustedRoots(provisioned, learntRoots()); }, serverName: DISCOVERY_SERVER_NAME },
    metadata: tokenFile
      ? async (): Promise<Record<string, string>> => {
        const t = (await readFile(tokenFile, 'utf8')).trim();
        return t ? { authorization: `Bearer ${t}` } : {};
      }
      : undefined,
  };
}

async function run(type: ProxyType, flags: ProxyFlags, ctx: CliContext): Promise<void> {
  const c = proxyConfig(type, flags, ctx.env);
  const logs = createLogFactory({ levels: c.logLevels });
  const log = logs.component('proxy');
  // as Envoy's deployments run it (container runtimes give 1,048,576): every connection costs
  // descriptors, one downstream and one upstream
  const files = raiseOpenFilesLimit();
  if (typeof files === 'string') log.warn({ err: files }, 'cannot read or raise the open-files limit');
  else log.info({ openFilesLimit: files.after.soft, hardLimit: files.after.hard, raisedFrom: files.before.soft === files.after.soft ? undefined : files.before.soft }, files.after.soft < 65_536 ? 'open-files limit is low for a proxy (each connection uses two descriptors); raise the hard limit (ulimit -Hn / LimitNOFILE)' : 'open-files limit');
  let agent: WorkloadAgent | undefined;
  // DestinationRule CA/certificate files and the OS roots, served by name as istio-agent's SDS does
  const fileSecrets = new FileSecretProvider({ systemBundle: c.systemCaFile });
  if (c.caAddress) {
    agent = createWorkloadAgent({
      caAddress: c.caAddress,
      caRootCertPem: c.caRootPem,
      tokenFile: c.tokenFile,
      identity: `spiffe://${c.trustDomain}/ns/${c.namespace}/sa/${c.serviceAccount}`,
      validitySeconds: c.secretTtlSeconds,
      clock: systemClock,
      log: logs.component('agent'),
    });
    agent.start();
  }
  const identity = { id: c.nodeId, ip: c.ip, podName: c.podName, namespace: c.namespace, serviceAccount: c.serviceAccount, labels: c.labels, meta: c.meta, trustDomain: c.trustDomain };
  let stop: ((signal?: NodeJS.Signals) => void) | undefined;
  const stopped = new Promise<NodeJS.Signals | undefined>((resolve) => (stop = resolve));
  const opts = {
    identity,
    discovery: c.discovery,
    xdsTransport: xdsTransport(c, () => agent?.cache.current()?.rootCertPem),
    xdsProtocol: c.xdsProtocol,
    logs,
    adminPort: c.adminPort,
    readinessPort: c.readinessPort,
    prometheusPort: c.prometheusPort,
    mergedMetricsPort: c.mergedMetricsPort,
    appMetrics: c.appMetrics,
    ...(c.appProbers ? { appProbers: c.appProbers } : {}),
    accessLog: c.accessLog,
    secrets: new ChainedSecretProvider([...(agent ? [cacheSecretProvider(agent.cache)] : []), fileSecrets]),
    originalDestination: kernelOriginalDestination,
    portOverride: (name: string, p: number) => (name === 'virtualOutbound' && c.outboundPort !== undefined ? c.outboundPort : name === 'virtualInbound' && c.inboundPort !== undefined ? c.inboundPort : p),
    drainGraceMs: c.drainGraceMs,
    drainDurationMs: c.drainDurationMs,
    ...(c.dns ? { dns: new SidecarDns({ namespace: c.namespace, upstreams: c.dns.upstreams, address: c.dns.address, port: c.dns.port }) } : {}),
    environment: c.environment,
    onQuit: () => stop?.(),
  };
  const waypoint = type === 'waypoint' ? new Waypoint(opts) : undefined;
  // As istiod for ISTIO_META_ENABLE_HBONE=true: a sidecar also accepts HBONE on 15008 (connect_terminate)
  const hbonePort = type === 'sidecar' && /^true$/i.test(c.meta.ENABLE_HBONE ?? '') ? HBONE_PORT : undefined;
  const proxy = waypoint ? waypoint.proxy : type === 'router' ? createRouter(opts) : createSidecar({ ...opts, ...(hbonePort !== undefined ? { hbonePort } : {}) });
  const onSignal = (signal: NodeJS.Signals): void => stop?.(signal);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // One broken connection must not take the data plane down with every other connection.
  const onCrash = (err: unknown): void => log.error({ err }, 'unexpected error in a connection handler (kept running)');
  process.on('uncaughtException', onCrash);
  let stopTrim: (() => void) | undefined;
  try {
    if (waypoint) await waypoint.start();
    else await proxy.start();
    stopTrim = startProxyTrim(c.trimFilePagesAtMs, logs.component('memory'));
    ctx.stdout(`mizzen proxy ${type} ${String(proxy.node.id)}: admin 127.0.0.1:${proxy.adminPort}${proxy.readinessPort !== undefined ? `, ready :${proxy.readinessPort}/healthz/ready` : ''}${waypoint ? `, HBONE :${waypoint.hbonePort}` : hbonePort !== undefined ? `, HBONE :${hbonePort}` : ''}${c.dns ? `, DNS ${c.dns.address}:${opts.dns?.port}` : ''}, discovery ${c.discovery}\n`);
    const signal = await stopped;
    log.info({ signal }, 'shutting down: draining connections');
    if (waypoint) await waypoint.drain(c.drainGraceMs);
    // A sidecar told to terminate (the kubelet's SIGTERM) keeps serving inbound connections while
    // they still come, as Istio's agent does; SIGINT and /quitquitquit stop accepting at once.
    else if (type === 'sidecar' && signal === 'SIGTERM') await proxy.terminate(c.drainGraceMs);
    else await proxy.drain(c.drainGraceMs);
  } finally {
    stopTrim?.();
    waypoint?.close();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('uncaughtException', onCrash);
    proxy.close();
    agent?.close();
    fileSecrets.close();
  }
}

/** `mizzen proxy sidecar|router|waypoint`: the data plane, consuming Envoy xDS from discovery. */
export function register(program: Command, ctx: CliContext): void {
  const proxy = program.command('proxy').description('run the data plane proxy (Envoy xDS from discovery)');
  const descriptions = {
    sidecar: 'a sidecar next to one workload (captured 15001 outbound / 15006 inbound)',
    router: 'a gateway (listeners bound to their ports)',
    waypoint: "an ambient waypoint: HBONE in on 15008, L7 routing and policy for the services bound to it, HBONE out to the endpoints' ztunnels",
  };
  for (const type of ['sidecar', 'router', 'waypoint'] as const) {
    proxy
      .command(type)
      .description(descriptions[type])
      .option('--discovery <host:port>', 'discovery (ADS) address; env DISCOVERY_ADDRESS')
      .option('--id <node-id>', `Istio node id, e.g. ${type}~10.244.0.5~pod.ns~ns.svc.cluster.local`)
      .option('--ip <ip>', 'instance IP; env INSTANCE_IP')
      .option('--pod <name>', 'pod name; env POD_NAME')
      .option('--namespace <ns>', 'namespace; env POD_NAMESPACE')
      .option('--service-account <sa>', 'service account; env SERVICE_ACCOUNT')
      .option('--labels <k=v,...>', 'workload labels; env ISTIO_META_LABELS (JSON)')
      .option('--admin-port <port>', 'admin port (localhost)', '15000')
      .option('--readiness-port <port>', 'readiness port (/healthz/ready), "none" to disable', '15021')
      .option('--prometheus-port <port>', 'Prometheus port (/stats/prometheus), "none" to disable', '15090')
      .option('--merged-metrics-port <port>', 'merged Prometheus port (proxy + app metrics per ISTIO_PROMETHEUS_ANNOTATIONS), "none" to disable (default 15020, none when --prometheus-port is none)')
      .option('--access-log-file <path>', 'Istio access log (one line per request), e.g. /dev/stdout (meshConfig.accessLogFile)')
      .option('--access-log-encoding <enc>', 'TEXT (Istio default format) or JSON (meshConfig.accessLogEncoding)', 'TEXT')
      .option('--ca-address <host:port>', 'CA address (default: the discovery address); env CA_ADDR')
      .option('--no-ca', 'do not request a workload certificate')
      .option('--ca-root <file>', 'mesh root certificate: discovery and the CA are reached over TLS')
      .option('--token-file <file>', 'service-account token for discovery and the CA')
      .option('--outbound-port <port>', 'port for the virtualOutbound listener (default: as configured, 15001)')
      .option('--inbound-port <port>', 'port for the virtualInbound listener (default: as configured, 15006)')
      .option('--xds-protocol <p>', 'delta or sotw', 'delta')
      .option('--drain-grace <seconds>', 'on SIGTERM, how long in-flight requests may finish', '5')
      .option('--drain-duration <duration>', 'on a listener update, how long connections on changed filter chains may finish (Istio drainDuration; default: PROXY_CONFIG drainDuration, else 45s)')
      .option('--trust-domain <domain>', 'trust domain; env TRUST_DOMAIN')
      .action(async (flags: ProxyFlags) => {
        try {
          await run(type, flags, ctx);
        } catch (err) {
          ctx.stderr(`error: ${errorMessage(err)}\n`);
          ctx.exitCode = 1;
        }
      });
  }
  registerZtunnel(proxy, ctx);
}
