import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import type { MeshStatus } from '../runtime/local-mesh.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';

/**
 * `mizzen dashboard [graph|prometheus]`: the URL of the running mesh's service graph (the local
 * web UI that `mizzen up` serves, Kiali's job) or of an addon, like `istioctl dashboard kiali`
 * prints where it forwarded.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('dashboard')
    .description("print the URL of the local mesh's web UI (service graph), or of an addon (`mizzen dashboard prometheus`)")
    .argument('[name]', 'graph (default) or an addon started with `mizzen up --addons`', 'graph')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (name: string, flags: { stateDir?: string }) => {
      try {
        const stateDir = stateDirFrom(flags.stateDir, ctx.cwd);
        const status = await new ControlClient(stateDir).get<MeshStatus>('/status');
        if (name === 'graph' || name === 'kiali') {
          if (!status.dashboard) throw new MizzenError('USAGE', 'this mesh runs without its dashboard (it was started with --dashboard-port none)');
          ctx.stdout(`${status.dashboard}\n`);
          return;
        }
        const url = status.addons?.[name];
        if (!url) {
          const running = Object.keys(status.addons ?? {});
          throw new MizzenError('USAGE', `no ${name} addon in this mesh${running.length > 0 ? ` (running: ${running.join(', ')})` : ''}`, { hint: `start the mesh with \`mizzen up --addons ${name} DIR\`` });
        }
        ctx.stdout(`${url}\n`);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
