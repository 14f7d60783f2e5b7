import type { Command } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import type { ZtunnelFlags } from './ztunnel-config.ts';

/** Declare `mizzen proxy ztunnel`; its implementation is imported only when it runs. */
export function registerZtunnel(proxy: Command, ctx: CliContext): void {
  proxy
    .command('ztunnel')
    .description("ambient mode's per-node proxy: HBONE (15008), in-pod redirection driven by the node agent over ZDS, L4 authorization")
    .option('--discovery <host:port>', 'discovery (workload API over delta ADS); env XDS_ADDRESS')
    .option('--ca-address <host:port>', 'CA address (default: discovery); env CA_ADDRESS')
    .option('--ca-root <file>', 'mesh root certificate: discovery and the CA are reached over TLS; env CA_ROOT_CA')
    .option('--token-file <file>', "ztunnel's own service-account token (bound to its pod); env TOKEN_FILE")
    .option('--pod <name>', "ztunnel's pod name; env POD_NAME")
    .option('--namespace <ns>', "ztunnel's namespace; env POD_NAMESPACE")
    .option('--ip <ip>', "ztunnel's address; env INSTANCE_IP")
    .option('--node <name>', 'the node it serves; env NODE_NAME')
    .option('--cluster-id <id>', 'cluster ID; env CLUSTER_ID')
    .option('--network <name>', 'network; env NETWORK')
    .option('--zds-socket <path>', "the node agent's ZDS socket; env INPOD_UDS (default /var/run/ztunnel/ztunnel.sock)")
    .option('--on-demand', 'fetch workloads on demand (env XDS_ON_DEMAND)')
    .option('--admin-port <port>', 'admin port (localhost), "none" to disable', '15000')
    .option('--readiness-port <port>', 'readiness port (/healthz/ready), "none" to disable', '15021')
    .option('--metrics-port <port>', 'Prometheus port (/metrics), "none" to disable', '15020')
    .option('--access-log-file <path>', "ztunnel's access log (one line per connection), e.g. /dev/stdout")
    .option('--dns-capture', 'serve DNS for pods on 15053 (env ISTIO_META_DNS_CAPTURE)')
    .option('--trust-domain <domain>', 'mesh trust domain; env TRUST_DOMAIN')
    .action(async (flags: ZtunnelFlags) => {
      try {
        const { runZtunnel } = await import('./ztunnel-command.ts');
        await runZtunnel(flags, ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
