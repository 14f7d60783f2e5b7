import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { reportOutcome } from './apply-command.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, readFilenameArgs, type ObjectRef } from './cluster-access.ts';
import { parseLabelSelector } from './label-selector.ts';
import { parseResourceArgs } from './resource-args.ts';

interface DeleteFlags {
  filename: string[];
  namespace?: string;
  selector?: string;
  all?: boolean;
  ignoreNotFound?: boolean | string;
  stateDir?: string;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/**
 * `mizzen delete -f FILE|DIR|-` or `mizzen delete KIND NAME...` / `KIND/NAME` / `KIND -l SEL` /
 * `KIND --all`: remove resources from the running local mesh, with kubectl's messages.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('delete')
    .description('delete resources from the local mesh: -f FILE|DIR|- or KIND NAME... (kubectl-style)')
    .argument('[resource...]', 'KIND NAME..., KIND/NAME...')
    .option('-f, --filename <path>', 'file, directory or - for standard input (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('-l, --selector <selector>', 'delete the objects of KIND matching this label selector')
    .option('--all', 'delete every object of KIND in the namespace')
    .option('--ignore-not-found [bool]', 'treat "not found" as a successful delete (--ignore-not-found=true as kubectl takes it)')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (resourceArgs: string[], flags: DeleteFlags) => {
      try {
        // A boolean flag to kubectl: `--ignore-not-found ns foo` deletes namespace foo (the optional
        // value only takes true/false; anything else is the first resource argument).
        const notFoundValue = flags.ignoreNotFound;
        const args = typeof notFoundValue === 'string' && notFoundValue !== 'true' && notFoundValue !== 'false' ? [notFoundValue, ...resourceArgs] : resourceArgs;
        const ignore = notFoundValue === true || (typeof notFoundValue === 'string' && notFoundValue !== 'false');
        const access = openClusterAccess(flags, ctx.cwd);
        let outcome;
        if (flags.filename.length > 0) {
          if (args.length > 0) throw new MizzenError('USAGE', 'when -f is given, no resource arguments are allowed');
          const { files, errors } = readFilenameArgs(flags.filename, ctx.cwd);
          if (errors.length > 0) throw new MizzenError('CONFIG_IO', errors.join('\n'));
          outcome = await access.deleteFiles(files, flags.namespace);
        } else {
          const refs: ObjectRef[] = [];
          for (const sel of parseResourceArgs(args)) {
            const namespace = sel.kind.namespaced ? (flags.namespace ?? 'default') : undefined;
            let names = sel.names;
            if (names.length === 0) {
              if (!flags.selector && !flags.all) throw new MizzenError('USAGE', 'resource(s) were provided, but no name was specified');
              const match = flags.selector ? parseLabelSelector(flags.selector) : () => true;
              names = (await access.list(sel.kind, namespace)).filter((o) => match(o.metadata?.labels)).map((o) => String(o.metadata?.name));
            }
            for (const name of names) refs.push({ kind: sel.kind.kind, group: sel.kind.group, metadata: { name, ...(namespace ? { namespace } : {}) } });
          }
          if (refs.length === 0) {
            ctx.stdout(`No resources found${flags.namespace ? ` in ${flags.namespace} namespace` : ''}\n`);
            return;
          }
          outcome = await access.deleteObjects(refs);
        }
        const errors = outcome.errors.filter((e) => !(ignore && / not found$/.test(e)));
        reportOutcome({ ...outcome, ok: errors.length === 0, errors: errors.map((e) => (/ not found$/.test(e) ? `Error from server (NotFound): ${e}` : e)) }, ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
