import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, readFilenameArgs, requireFilenames, type ChangeOutcome } from './cluster-access.ts';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** Print a change's outcome as kubectl does; exit 1 when anything failed. */
export function reportOutcome(r: ChangeOutcome, ctx: CliContext): void {
  for (const w of r.warnings ?? []) ctx.stderr(`Warning: ${w}\n`);
  for (const c of r.changes) ctx.stdout(`${c}\n`);
  if (!r.ok) {
    for (const e of r.errors) ctx.stderr(e.startsWith('Error from server') ? `${e}\n` : `error: ${e}\n`);
    ctx.exitCode = 1;
  }
}

interface ApplyFlags {
  filename: string[];
  namespace?: string;
  stateDir?: string;
  dryRun?: string | true;
}

/**
 * `mizzen apply -f FILE|DIR|-`: a validated change to the running local mesh (Istio config and
 * Kubernetes objects alike); invalid input changes nothing. `-f -` reads standard input, as
 * `kubectl apply -f - <<EOF`. `--dry-run=server` shows what the change would do (`mizzen diff`).
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .description('create or update resources (Istio config and Kubernetes objects) in the local mesh; -f - reads standard input')
    .option('-f, --filename <path>', 'file, directory or - for standard input (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace for resources that do not name one')
    .option('--dry-run [strategy]', 'none | client | server: client validates only; server also shows the proxies and xDS the change would alter (as mizzen diff). Applies nothing')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (flags: ApplyFlags) => {
      try {
        requireFilenames(flags.filename);
        const strategy = flags.dryRun === undefined ? 'none' : flags.dryRun === true ? 'client' : flags.dryRun;
        if (!['none', 'client', 'server'].includes(strategy)) throw new MizzenError('USAGE', `Invalid dry-run value (${strategy}). Must be "none", "server", or "client".`);
        if (strategy !== 'none') {
          const { runDryRun } = await import('./diff-command.ts');
          await runDryRun(flags, ctx, strategy === 'server');
          return;
        }
        const { files, errors } = readFilenameArgs(flags.filename, ctx.cwd);
        if (errors.length > 0) throw new MizzenError('CONFIG_IO', errors.join('\n'));
        reportOutcome(await openClusterAccess(flags, ctx.cwd).apply(files, flags.namespace), ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
