import type { Command } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, type KubeObject } from './cluster-access.ts';
import { parseLabelSelector } from './label-selector.ts';
import { podWarnings } from './kube-printers.ts';
import { renderObjects, resourceName } from './object-output.ts';
import { parseResourceArgs, qualifiedPlural } from './resource-args.ts';

interface GetFlags {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  selector?: string;
  showLabels?: boolean;
  labelColumns?: string[];
  headers?: boolean;
  stateDir?: string;
}

const collect = (v: string, acc: string[] = []): string[] => [...acc, ...v.split(',')];

/**
 * `mizzen get KIND [NAME...] [-n NS|-A] [-o wide|yaml|json|name|jsonpath=...|custom-columns=...]`:
 * pods, services, deployments, namespaces and every Istio kind with kubectl's names, short names
 * and output formats; exit 1 with kubectl's NotFound message for a missing name.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .description('show resources of the local mesh, as kubectl get (pods, svc, deploy, ns, vs, dr, gw, se, we, wg, sidecar, pa, ra, ap, telemetry, ...)')
    .argument('<resource...>', 'KIND [NAME...], KIND/NAME..., or KIND1,KIND2')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('-A, --all-namespaces', 'all namespaces')
    .option('-o, --output <format>', 'wide | yaml | json | name | jsonpath=TEMPLATE | custom-columns=SPEC')
    .option('-l, --selector <selector>', 'label selector (k=v, k!=v, k in (a,b), !k, ...)')
    .option('--show-labels', 'show every label as the last column')
    .option('-L, --label-columns <keys>', 'a column per label key (repeatable, comma-separated)', collect)
    .option('--no-headers', 'no header line')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (args: string[], flags: GetFlags) => {
      try {
        const selections = parseResourceArgs(args);
        const match = flags.selector ? parseLabelSelector(flags.selector) : () => true;
        const access = openClusterAccess(flags, ctx.cwd);
        const ns = flags.allNamespaces ? undefined : (flags.namespace ?? 'default');
        const several = selections.length > 1;
        let printed = 0;
        let notFound = false;
        const outputs: string[] = [];
        const warnings: string[] = [];
        const tables = flags.output === undefined || flags.output === 'wide';
        for (const sel of selections) {
          const all = (await access.list(sel.kind, ns)).filter((o: KubeObject) => match(o.metadata?.labels));
          let items = all;
          if (sel.names.length > 0) {
            items = [];
            for (const name of sel.names) {
              const found = all.find((o) => o.metadata?.name === name);
              if (found) items.push(found);
              else {
                ctx.stderr(`Error from server (NotFound): ${qualifiedPlural(sel.kind)} "${name}" not found\n`);
                notFound = true;
              }
            }
          }
          if (items.length === 0) continue;
          printed += items.length;
          if (sel.kind.kind === 'Pod' && tables) warnings.push(...podWarnings(items));
          // With several kinds, kubectl prefixes names with their kind (`pod/x`).
          const shown = several && (flags.output === undefined || flags.output === 'wide') ? items.map((o) => ({ ...o, metadata: { ...o.metadata, name: resourceName(sel.kind, o) } })) : items;
          outputs.push(
            renderObjects(sel.kind, shown, sel.names.length !== 1 || several, {
              output: flags.output,
              withNamespace: ns === undefined && sel.kind.namespaced,
              showLabels: flags.showLabels,
              labelColumns: flags.labelColumns,
              noHeaders: flags.headers === false,
            }),
          );
        }
        ctx.stdout(outputs.join(tables ? '\n' : ''));
        // Why a pod is not running (kubectl shows it in `describe`; here it comes with the list).
        for (const w of warnings) ctx.stderr(`Warning: ${w}\n`);
        if (printed === 0 && !notFound) {
          if (flags.output === 'json' || flags.output === 'yaml') ctx.stdout(renderObjects(selections[0].kind, [], true, { output: flags.output, withNamespace: false }));
          else ctx.stderr(ns === undefined || selections.every((s) => !s.kind.namespaced) ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
        }
        if (notFound) ctx.exitCode = 1;
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
