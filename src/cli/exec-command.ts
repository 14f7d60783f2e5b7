import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess } from './cluster-access.ts';
import { chooseContainer, resolvePod } from './pod-target.ts';

/**
 * `mizzen exec POD|deploy/NAME [-c C] [-i] [-t] -- CMD...`: run a command in a pod; the exit
 * status is the command's. In file mode it runs in the pod's network namespace as the app's user
 * (its traffic captured like the app's; stdin always passed); on an `up --kube` mesh through the
 * API server's pod `exec` subresource in the chosen container (stdin with `-i`, as kubectl).
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description('run a command in a pod of the mesh (kubectl exec)')
    .argument('<pod>', 'POD or deploy/NAME')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-c, --container <name>', 'container; default: the only one, the pod\'s kubectl.kubernetes.io/default-container, else the first')
    .option('-i, --stdin', 'pass stdin to the command (file mode always does)')
    .option('-t, --tty', 'attach the terminal directly (interactive shells)')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (ref: string, command: string[], flags: { namespace: string; container?: string; stateDir?: string; stdin?: boolean; tty?: boolean }) => {
      try {
        if (command.length === 0) throw new MizzenError('USAGE', 'no command given: mizzen exec POD -- CMD ...');
        const access = openClusterAccess(flags, ctx.cwd);
        const note = (line: string): void => ctx.stderr(`${line}\n`);
        const pod = await resolvePod(access, flags.namespace, ref, note);
        const container = chooseContainer(pod, flags.container, note);
        ctx.exitCode = await access.exec(pod, container, command, { stdin: flags.stdin === true, tty: flags.tty === true, stdout: ctx.stdout, stderr: ctx.stderr });
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
