import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import { asUserArgv, netnsExecArgv } from '../runtime/netns.ts';
import type { PodStatusView } from '../runtime/pod-instance.ts';
import { requireRootLinux, stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';

/**
 * `mizzen exec`: run a command inside a pod's network namespace as the app's user, so its
 * traffic is captured exactly like the app's.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description('run a command in a pod of the local mesh (its network namespace, as the app user)')
    .argument('<pod>', 'POD or deploy/NAME')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-c, --container <name>', 'container (accepted for kubectl compatibility)')
    .option('-i, --stdin', 'pass stdin to the command (it always is; kubectl compatibility)')
    .option('-t, --tty', 'attach the terminal directly (interactive shells)')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (pod: string, command: string[], flags: { namespace: string; stateDir?: string; tty?: boolean }) => {
      try {
        requireRootLinux('exec');
        const client = new ControlClient(stateDirFrom(flags.stateDir, ctx.cwd));
        const view = await client.get<PodStatusView>('/pod', { namespace: flags.namespace, ref: pod });
        if (command.length === 0) throw new MizzenError('USAGE', 'no command given: mizzen exec POD -- CMD ...');
        const argv = netnsExecArgv(view.netns, asUserArgv(view.appUid, view.appGid, command));
        const child = spawn(argv[0], argv.slice(1), { stdio: flags.tty ? 'inherit' : ['inherit', 'pipe', 'pipe'] });
        child.stdout?.on('data', (d: Buffer) => ctx.stdout(d.toString('utf8')));
        child.stderr?.on('data', (d: Buffer) => ctx.stderr(d.toString('utf8')));
        ctx.exitCode = await new Promise<number>((resolve) => {
          child.on('error', (err) => {
            ctx.stderr(`error: ${err.message}\n`);
            resolve(127);
          });
          child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
        });
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
