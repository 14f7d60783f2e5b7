import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { reportOutcome } from './apply-command.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess } from './cluster-access.ts';
import { resolveKind } from './resource-args.ts';

/** `KEY=VALUE` sets, `KEY-` removes (kubectl's label arguments). */
export function parseLabelArgs(args: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of args) {
    const m = /^([A-Za-z0-9][\w./-]*)(?:=([\w.-]*)|(-))$/.exec(a);
    if (!m) throw new MizzenError('USAGE', `invalid label spec: ${a}`);
    out[m[1]] = m[3] ? null : (m[2] ?? '');
  }
  return out;
}

/**
 * `mizzen label [--overwrite] KIND NAME KEY=VALUE... [KEY-]` (or KIND/NAME): e.g.
 * `mizzen label namespace default istio-injection=enabled`. Injection labels take effect for
 * pods created afterwards (`mizzen rollout restart`), as with Istio.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('label')
    .description('add, change (--overwrite) or remove (KEY-) labels of an object in the local mesh, as kubectl label')
    .argument('<args...>', 'KIND NAME KEY=VALUE... | KIND/NAME KEY=VALUE...')
    .option('-n, --namespace <ns>', 'namespace of a namespaced object (default: default)')
    .option('--overwrite', 'allow changing a label that already has a value')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (args: string[], flags: { namespace?: string; overwrite?: boolean; stateDir?: string }) => {
      try {
        let typed: string;
        let name: string;
        let rest: string[];
        if (args[0]?.includes('/')) {
          typed = args[0].slice(0, args[0].indexOf('/'));
          name = args[0].slice(args[0].indexOf('/') + 1);
          rest = args.slice(1);
        } else {
          [typed, name] = [args[0] ?? '', args[1] ?? ''];
          rest = args.slice(2);
        }
        if (!typed || !name) throw new MizzenError('USAGE', 'one or more resources must be specified as <resource> <name> or <resource>/<name>');
        if (rest.length === 0) throw new MizzenError('USAGE', 'at least one label update is required');
        const kind = resolveKind(typed);
        const labels = parseLabelArgs(rest);
        const ref = { kind: kind.kind, group: kind.group, metadata: { name, ...(kind.namespaced ? { namespace: flags.namespace ?? 'default' } : {}) } };
        const r = await openClusterAccess(flags, ctx.cwd).label(ref, labels, flags.overwrite === true);
        reportOutcome({ ...r, errors: r.errors.map((e) => (/ not found$/.test(e) ? `Error from server (NotFound): ${e}` : e)) }, ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
