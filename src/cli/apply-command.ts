import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import { readSubmittedFiles } from '../runtime/local-mesh.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/**
 * `mizzen apply|delete -f FILE|DIR`: a validated change to the running local mesh (Istio config
 * and Kubernetes objects alike); invalid input changes nothing.
 */
export function registerChangeCommand(program: Command, ctx: CliContext, verb: 'apply' | 'delete'): void {
  program
    .command(verb)
    .description(`${verb === 'apply' ? 'create or update' : 'delete'} resources (Istio config and Kubernetes objects) in the local mesh`)
    .requiredOption('-f, --filename <path>', 'file or directory (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace for resources that do not name one')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (flags: { filename: string[]; namespace?: string; stateDir?: string }) => {
      try {
        if (flags.filename.length === 0) throw new MizzenError('USAGE', 'give at least one -f FILE|DIR');
        const { files, errors } = readSubmittedFiles(flags.filename.map((f) => (f.startsWith('/') ? f : `${ctx.cwd}/${f}`)));
        if (errors.length > 0) throw new MizzenError('CONFIG_IO', errors.join('\n'));
        const client = new ControlClient(stateDirFrom(flags.stateDir, ctx.cwd));
        const r = await client.post<{ ok: boolean; errors: string[]; warnings?: string[]; changes: string[] }>(`/${verb}`, { files, namespace: flags.namespace });
        for (const w of r.warnings ?? []) ctx.stderr(`warning: ${w}\n`);
        for (const c of r.changes) ctx.stdout(`${c}\n`);
        if (!r.ok) {
          for (const e of r.errors) ctx.stderr(`error: ${e}\n`);
          ctx.exitCode = 1;
        }
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}

export function register(program: Command, ctx: CliContext): void {
  registerChangeCommand(program, ctx, 'apply');
}
