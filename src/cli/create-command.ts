import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { parseDocuments } from '../control/config/parse-documents.ts';
import { reportOutcome } from './apply-command.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, readFilenameArgs } from './cluster-access.ts';
import { qualifiedPlural, resolveKind } from './resource-args.ts';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/**
 * `mizzen create namespace NAME` and `mizzen create -f FILE|-`: like apply, but an object that
 * already exists is an error (AlreadyExists), as kubectl create.
 */
export function register(program: Command, ctx: CliContext): void {
  const create = program
    .command('create')
    .description('create resources in the local mesh (kubectl create): -f FILE|DIR|-, or namespace NAME')
    .option('-f, --filename <path>', 'file, directory or - for standard input (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace for resources that do not name one')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (flags: { filename: string[]; namespace?: string; stateDir?: string }) => {
      try {
        if (flags.filename.length === 0) throw new MizzenError('USAGE', 'must specify one of -f and -k');
        const { files, errors } = readFilenameArgs(flags.filename, ctx.cwd);
        if (errors.length > 0) throw new MizzenError('CONFIG_IO', errors.join('\n'));
        const access = openClusterAccess(flags, ctx.cwd);
        const exists: string[] = [];
        for (const f of files) {
          for (const r of parseDocuments(f.text, f.file).resources) {
            const kind = resolveKind(`${r.kind}.${r.group || 'v1'}`);
            const ns = kind.namespaced ? (r.metadata.namespace ?? flags.namespace ?? 'default') : undefined;
            if ((await access.list(kind, ns)).some((o) => o.metadata?.name === r.metadata.name)) exists.push(`Error from server (AlreadyExists): error when creating "${f.file}": ${qualifiedPlural(kind)} "${r.metadata.name}" already exists`);
          }
        }
        if (exists.length > 0) {
          for (const e of exists) ctx.stderr(`${e}\n`);
          ctx.exitCode = 1;
          return;
        }
        const r = await access.apply(files, flags.namespace);
        reportOutcome({ ...r, changes: r.changes.map((c) => c.replace(/ (configured|unchanged)$/, ' created')) }, ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
  create
    .command('namespace')
    .alias('ns')
    .description('create a namespace')
    .argument('<name>', 'namespace name')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (name: string, flags: { stateDir?: string }) => {
      try {
        const access = openClusterAccess(flags, ctx.cwd);
        if ((await access.list(resolveKind('namespaces'), undefined)).some((o) => o.metadata?.name === name)) {
          ctx.stderr(`Error from server (AlreadyExists): namespaces "${name}" already exists\n`);
          ctx.exitCode = 1;
          return;
        }
        reportOutcome(await access.apply([{ file: 'namespace', text: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${JSON.stringify(name)}\n` }], undefined), ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
