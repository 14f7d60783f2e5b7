import { join } from 'node:path';
import type { Command } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import type { ProxySyncStatus } from '../control/debug/sync-status.ts';
import type { CliContext } from './cli-context.ts';
import { fetchDiscoveryJson } from './discovery-debug-client.ts';
import { addKubeDiscoveryOptions, openDiscoveryTarget, type DiscoveryTargetFlags } from './discovery-target.ts';
import { formatTable } from './text-table.ts';

interface Flags extends DiscoveryTargetFlags {
  output?: string;
}

/** `mizzen proxy-status [POD[.NS]]`: every connected proxy's xDS sync state, like istioctl. */
export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('proxy-status')
    .alias('ps')
    .description("show each connected proxy's xDS sync state (SYNCED, STALE, NOT SENT) from discovery's /debug/syncz")
    .argument('[pod]', 'only this proxy (POD or POD.NAMESPACE)')
    .option('--discovery-address <addr>', "discovery's debug/metrics address (HOST:PORT or unix:/path; default: the local mesh's .mizzen/discovery.sock when present, else the discovery pods through the API server of --kubeconfig, $KUBECONFIG or ~/.kube/config when there is one, else 127.0.0.1:15014)")
    .option('-o, --output <format>', 'output format: table (default) or json')
    .option('--state-dir <dir>', 'state directory of the mesh (default .mizzen in the current directory; an `up --kube` one is reached through its API server)');
  addKubeDiscoveryOptions(command)
    .action(async (pod: string | undefined, flags: Flags) => {
      if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'table') {
        ctx.stderr(`error: -o ${flags.output}: want json or table\n`);
        ctx.exitCode = 2;
        return;
      }
      let rows: ProxySyncStatus[];
      try {
        const target = await openDiscoveryTarget(flags, ctx);
        try {
          rows = (await fetchDiscoveryJson(target.address, '/debug/syncz')) as ProxySyncStatus[];
          // Neither the local mesh's own socket nor the API server's discovery pods: say which
          // control plane answered (another one may listen on that address).
          if (!target.address.startsWith('unix:') && target.via === undefined) {
            const info = (await fetchDiscoveryJson(target.address, '/debug').catch(() => ({}))) as { controlPlane?: string };
            const who = info.controlPlane ?? rows[0]?.controlPlane ?? 'unknown control plane';
            ctx.stderr(`${flags.discoveryAddress ? '' : `no local mesh here (${join(ctx.cwd, '.mizzen')}): `}control plane at ${target.address}: ${who}\n`);
          }
        } finally {
          await target.close();
        }
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
        return;
      }
      if (pod) {
        rows = rows.filter((r) => r.name === pod || r.podName === pod || r.proxy === pod);
        if (rows.length === 0) {
          ctx.stderr(`error: proxy ${pod} is not connected to discovery\n`);
          ctx.exitCode = 1;
          return;
        }
      }
      if (flags.output === 'json') {
        ctx.stdout(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const nack = (r: ProxySyncStatus, short: string): string => {
        const state = r.status[short] ?? 'NOT SENT';
        const t = r.types.find((x) => x.typeUrl.endsWith(typeSuffix(short)));
        return t?.lastNack && t.lastNack.nonce === t.nonceSent ? `${state} (NACK)` : state;
      };
      ctx.stdout(
        formatTable(
          ['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ISTIOD', 'VERSION'],
          rows.map((r) => [r.name, r.clusterId, nack(r, 'cds'), nack(r, 'lds'), nack(r, 'eds'), nack(r, 'rds'), r.controlPlane ?? 'mizzen-discovery', r.istioVersion || 'unknown']),
        ),
      );
    });
}

function typeSuffix(short: string): string {
  return { cds: '.Cluster', lds: '.Listener', eds: '.ClusterLoadAssignment', rds: '.RouteConfiguration' }[short] ?? short;
}
