import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { keepCertificateFiles } from '../agent/certificate-files.ts';
import { grpcBootstrap } from '../agent/grpc-bootstrap.ts';
import { createWorkloadAgent, type WorkloadAgent } from '../agent/workload-agent.ts';
import { systemClock } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import { createLogFactory } from '../lib/log.ts';
import type { CliContext } from './cli-context.ts';
import { proxyConfig, type ProxyFlags } from './proxy-config.ts';

interface GrpcAgentFlags extends Pick<ProxyFlags, 'discovery' | 'id' | 'ip' | 'pod' | 'namespace' | 'serviceAccount' | 'labels' | 'caAddress' | 'ca' | 'caRoot' | 'tokenFile' | 'trustDomain'> {
  bootstrap: string;
  outputCerts: string;
}

/**
 * `mizzen grpc-agent`: the agent of a proxyless gRPC workload (Istio's `grpc-agent` injection
 * template: pilot-agent without Envoy). Writes the gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP) and
 * keeps the workload certificate from the CA as files for gRPC's file_watcher provider.
 */
async function run(f: GrpcAgentFlags, ctx: CliContext): Promise<void> {
  const c = proxyConfig('sidecar', { ...f, adminPort: '0', readinessPort: 'none', prometheusPort: 'none', xdsProtocol: 'delta', drainGrace: '0' }, ctx.env);
  const logs = createLogFactory({ levels: c.logLevels });
  const nodeId = c.nodeId ?? `sidecar~${c.ip}~${c.podName}.${c.namespace}~${c.namespace}.svc.cluster.local`;
  const bootstrap = grpcBootstrap({ discoveryAddress: c.discovery, nodeId, namespace: c.namespace, labels: c.labels, metadata: c.meta, certDir: c.caAddress ? f.outputCerts : undefined });
  mkdirSync(dirname(f.bootstrap), { recursive: true });
  const tmp = `${f.bootstrap}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(bootstrap, null, 2)}\n`);
  renameSync(tmp, f.bootstrap);
  let agent: WorkloadAgent | undefined;
  let unsubscribe: (() => void) | undefined;
  if (c.caAddress) {
    mkdirSync(f.outputCerts, { recursive: true, mode: 0o755 });
    agent = createWorkloadAgent({
      caAddress: c.caAddress,
      caRootCertPem: c.caRootPem,
      tokenFile: c.tokenFile,
      identity: `spiffe://${c.trustDomain}/ns/${c.namespace}/sa/${c.serviceAccount}`,
      clock: systemClock,
      log: logs.component('agent'),
    });
    const log = logs.component('agent');
    unsubscribe = keepCertificateFiles(agent.cache, f.outputCerts, (s) => log.info({ identity: s.identity, notAfter: new Date(s.notAfter).toISOString() }, 'certificate files written'), (err) => log.error({ err }, `cannot write certificate files to ${f.outputCerts}`));
    agent.start();
  }
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (): void => stop?.();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    if (agent) await agent.ready();
    ctx.stdout(`mizzen grpc-agent ${nodeId}: bootstrap ${f.bootstrap}${agent ? `, certificates in ${f.outputCerts}` : ''}, discovery ${c.discovery}\n`);
    await stopped;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    unsubscribe?.();
    agent?.close();
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('grpc-agent')
    .description('agent for a proxyless gRPC workload: writes its xDS bootstrap and keeps its certificate files (Istio grpc-agent)')
    .option('--discovery <host:port>', 'discovery (ADS) address; env DISCOVERY_ADDRESS')
    .option('--bootstrap <file>', 'where to write the gRPC xDS bootstrap (point GRPC_XDS_BOOTSTRAP at it)', './grpc-bootstrap.json')
    .option('--output-certs <dir>', 'where to keep cert-chain.pem, key.pem, root-cert.pem (Istio: /var/lib/istio/data)', './certs')
    .option('--id <node-id>', 'Istio node id (default sidecar~IP~POD.NS~NS.svc.cluster.local)')
    .option('--ip <ip>', 'instance IP; env INSTANCE_IP')
    .option('--pod <name>', 'pod name; env POD_NAME')
    .option('--namespace <ns>', 'namespace; env POD_NAMESPACE')
    .option('--service-account <sa>', 'service account; env SERVICE_ACCOUNT')
    .option('--labels <k=v,...>', 'workload labels; env ISTIO_META_LABELS (JSON)')
    .option('--ca-address <host:port>', 'CA address (default: the discovery address); env CA_ADDR')
    .option('--no-ca', 'no certificate (plaintext gRPC only)')
    .option('--ca-root <file>', 'mesh root certificate: the CA is reached over TLS')
    .option('--token-file <file>', 'service-account token for the CA')
    .option('--trust-domain <domain>', 'trust domain; env TRUST_DOMAIN')
    .action(async (flags: GrpcAgentFlags) => {
      try {
        await run(flags, ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
