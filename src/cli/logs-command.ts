import type { Command } from 'commander';
import { open } from 'node:fs/promises';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';

/** Print what is appended to `file` from `offset` on, until SIGINT/SIGTERM. */
async function follow(file: string, offset: number, ctx: CliContext): Promise<void> {
  let stop = false;
  const onSignal = (): void => void (stop = true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const fh = await open(file, 'r');
  try {
    let pos = offset;
    const buf = Buffer.alloc(65536);
    while (!stop) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        ctx.stdout(buf.subarray(0, bytesRead).toString('utf8'));
      } else await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await fh.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `mizzen logs`: a container's output (stdout and stderr), kubectl-style. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description('print the logs of a container in the local mesh')
    .argument('<pod>', 'POD or deploy/NAME')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-c, --container <name>', 'container (istio-proxy for the sidecar)')
    .option('-f, --follow', 'keep printing what the container writes (Ctrl-C stops)')
    .option('--tail <lines>', 'only the last N lines')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (pod: string, flags: { namespace: string; container?: string; stateDir?: string; follow?: boolean; tail?: string }) => {
      try {
        const client = new ControlClient(stateDirFrom(flags.stateDir, ctx.cwd));
        const r = await client.get<{ text: string; file: string }>('/logs', { namespace: flags.namespace, ref: pod, container: flags.container });
        const tail = flags.tail === undefined ? undefined : Number(flags.tail);
        if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new MizzenError('USAGE', `--tail must be a number of lines (got ${flags.tail})`);
        const lines = r.text.split('\n');
        if (lines.at(-1) === '') lines.pop();
        const shown = tail === undefined ? lines : lines.slice(Math.max(0, lines.length - tail));
        ctx.stdout(shown.length > 0 ? `${shown.join('\n')}\n` : '');
        if (flags.follow) await follow(r.file, Buffer.byteLength(r.text), ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
