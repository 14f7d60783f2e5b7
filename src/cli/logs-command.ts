import type { Command } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';

/** `mizzen logs`: a container's output (stdout and stderr), kubectl-style. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description('print the logs of a container in the local mesh')
    .argument('<pod>', 'POD or deploy/NAME')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-c, --container <name>', 'container (istio-proxy for the sidecar)')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (pod: string, flags: { namespace: string; container?: string; stateDir?: string }) => {
      try {
        const client = new ControlClient(stateDirFrom(flags.stateDir, ctx.cwd));
        const r = await client.get<{ text: string }>('/logs', { namespace: flags.namespace, ref: pod, container: flags.container });
        ctx.stdout(r.text);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
