import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ztunnel } from '../data/ztunnel.ts';
import { systemClock } from '../lib/clock.ts';
import { startProxyTrim } from '../lib/executable-pages.ts';
import { createLogFactory } from '../lib/log.ts';
import type { CliContext } from './cli-context.ts';
import { ztunnelConfig, type ZtunnelFlags } from './ztunnel-config.ts';

/** Istio's discovery server name (SNI and certificate check on 15012). */
const DISCOVERY_SERVER_NAME = 'istiod.istio-system.svc';

/** `mizzen proxy ztunnel` (loaded only when it runs, so sidecars never load ztunnel's modules). */
export async function runZtunnel(flags: ZtunnelFlags, ctx: CliContext): Promise<void> {
  const c = ztunnelConfig(flags, ctx.env);
  const logs = createLogFactory({ levels: c.logLevels });
  const tokenFile = c.tokenFile;
  const token = async (): Promise<string | undefined> => (tokenFile ? (await readFile(tokenFile, 'utf8')).trim() || undefined : undefined);
  const accessLog = c.accessLogFile ? createWriteStream(c.accessLogFile, { flags: 'a' }) : undefined;
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const z = new Ztunnel({
    discovery: c.discovery,
    ...(c.caRootPem
      ? { xdsTransport: { tls: { rootCertPem: c.caRootPem, serverName: DISCOVERY_SERVER_NAME }, metadata: async (): Promise<Record<string, string>> => { const t = await token(); return t ? { authorization: `Bearer ${t}` } : {}; } } }
      : {}),
    caAddress: c.caAddress,
    ...(c.caRootPem ? { caRootCertPem: c.caRootPem } : {}),
    token,
    podName: c.podName,
    namespace: c.namespace,
    ip: c.ip,
    nodeName: c.nodeName,
    clusterId: c.clusterId,
    network: c.network,
    zdsSocket: c.zdsSocket,
    onDemand: c.onDemand,
    adminAddress: '127.0.0.1',
    adminPort: c.adminPort,
    readinessPort: c.readinessPort,
    metricsPort: c.metricsPort,
    ...(accessLog ? { accessLog: { write: (line: string) => void accessLog.write(line) } } : {}),
    logs,
    clock: systemClock,
    onQuit: () => stop?.(),
    trustDomain: c.trustDomain,
    ...(c.dnsCapture ? { dns: { upstreams: c.dnsUpstreams } } : {}),
  });
  const onSignal = (): void => stop?.();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const onCrash = (err: unknown): void => logs.component('ztunnel').error({ err }, 'unexpected error in a connection handler (kept running)');
  process.on('uncaughtException', onCrash);
  let stopTrim: (() => void) | undefined;
  try {
    await z.start();
    stopTrim = startProxyTrim(c.trimFilePagesAtMs, logs.component('memory'));
    ctx.stdout(`mizzen proxy ztunnel: node ${c.nodeName || '(unnamed)'}, discovery ${c.discovery}, ZDS ${c.zdsSocket}, admin 127.0.0.1:${z.adminPort ?? '-'}, ready :${z.readinessPort ?? '-'}/healthz/ready, metrics :${z.metricsPort ?? '-'}\n`);
    await stopped;
  } finally {
    stopTrim?.();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('uncaughtException', onCrash);
    z.close();
    accessLog?.end();
  }
}

