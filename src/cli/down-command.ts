import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import { requireRootLinux, stateDirFrom } from '../runtime/runtime-config.ts';
import { processAlive, readMeshState, removeMeshLeftovers } from '../runtime/runtime-state.ts';
import type { CliContext } from './cli-context.ts';

/** `mizzen down`: stop the local mesh and remove everything `up` made. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('down')
    .description('stop the mesh started by `mizzen up` and remove its processes, namespaces, nft tables, routes and state')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (flags: { stateDir?: string }) => {
      try {
        requireRootLinux('down');
        const stateDir = stateDirFrom(flags.stateDir, ctx.cwd);
        const state = readMeshState(stateDir);
        if (!state) {
          rmSync(stateDir, { recursive: true, force: true });
          ctx.stdout(`no mesh to remove (${stateDir} has no state)\n`);
          return;
        }
        if (processAlive(state.pid)) {
          await new ControlClient(stateDir).post('/shutdown', {}).catch(() => undefined);
          const deadline = Date.now() + 30_000;
          while (processAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
          if (processAlive(state.pid)) {
            try {
              process.kill(state.pid, 'SIGKILL');
            } catch {
              // gone
            }
          }
        }
        // Whatever the mesh process did or did not clean up, remove the rest.
        await removeMeshLeftovers(state.prefix, [state.podCidr, state.serviceCidr]);
        rmSync(stateDir, { recursive: true, force: true });
        ctx.stdout(`mesh ${state.prefix} removed\n`);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
