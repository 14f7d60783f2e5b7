import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess } from './cluster-access.ts';
import { chooseContainer, resolvePod } from './pod-target.ts';

/**
 * `mizzen logs POD|deploy/NAME [-c C] [-f] [--tail N]`: a container's output (stdout and stderr),
 * as kubectl logs: without `-c`, the only container, else the pod's default-container annotation,
 * else the first one with kubectl's "Defaulted container" note. On an `up --kube` mesh it comes
 * through the API server's pod `log` subresource.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description('print the logs of a container in the mesh (kubectl logs)')
    .argument('<pod>', 'POD or deploy/NAME')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-c, --container <name>', 'container (istio-proxy for the sidecar); default: the only one, the pod\'s kubectl.kubernetes.io/default-container, else the first')
    .option('-f, --follow', 'keep printing what the container writes (Ctrl-C stops)')
    .option('--tail <lines>', 'only the last N lines')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (ref: string, flags: { namespace: string; container?: string; stateDir?: string; follow?: boolean; tail?: string }) => {
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      try {
        const tail = flags.tail === undefined ? undefined : Number(flags.tail);
        if (tail !== undefined && (!Number.isInteger(tail) || tail < -1)) throw new MizzenError('USAGE', `--tail must be a number of lines (got ${flags.tail})`);
        const access = openClusterAccess(flags, ctx.cwd);
        const note = (line: string): void => ctx.stderr(`${line}\n`);
        const pod = await resolvePod(access, flags.namespace, ref, note);
        const container = chooseContainer(pod, flags.container, note);
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        await access.logs(pod, container, { follow: flags.follow === true, tail: tail === -1 ? undefined : tail, signal: stop.signal }, ctx.stdout);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
