import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../lib/errors.ts';
import { shutdownMesh } from '../runtime/mesh-shutdown.ts';
import { requireRootLinux, stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';
import { downKube } from './up-kube.ts';

const CLI_ENTRY = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));

/** `mizzen down`: stop the local mesh and remove everything `up` made. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('down')
    .description('stop the mesh started by `mizzen up` (or `up --kube`: its node and cluster) and remove its processes, namespaces, nft tables, routes and state')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (flags: { stateDir?: string }) => {
      try {
        requireRootLinux('down');
        const stateDir = stateDirFrom(flags.stateDir, ctx.cwd);
        // `up --kube`: the node (its pods with it) and the cluster it started.
        const kube = await downKube(stateDir, CLI_ENTRY, ctx);
        const r = await shutdownMesh(stateDir);
        if (!r.prefix && kube) {
          ctx.stdout(`Kubernetes mesh of ${stateDir} removed\n`);
          return;
        }
        if (!r.prefix) {
          ctx.stdout(`no mesh to remove (${stateDir} has no state)\n`);
          return;
        }
        if (!r.wasRunning && r.removed.length > 0) ctx.stdout(`mesh ${r.prefix} was not running; removed what it left: ${r.removed.join(', ')}\n`);
        ctx.stdout(`mesh ${r.prefix} removed\n`);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
