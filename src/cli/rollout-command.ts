import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { reportOutcome } from './apply-command.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, type ClusterAccess, type KubeObject } from './cluster-access.ts';
import { resolveKind } from './resource-args.ts';

interface RolloutFlags {
  namespace?: string;
  stateDir?: string;
  timeout?: string;
}

/** `deployment/x`, `deploy x y`, or `deployment` alone (every Deployment of the namespace). */
async function deploymentNames(args: readonly string[], access: ClusterAccess, namespace: string): Promise<string[]> {
  const names: string[] = [];
  const deployments = resolveKind('deployments');
  if (args.length === 0) throw new MizzenError('USAGE', 'required resource not specified');
  for (const a of args) {
    if (a.includes('/')) {
      if (resolveKind(a.slice(0, a.indexOf('/'))) !== deployments) throw new MizzenError('USAGE', `${a}: only deployments can be rolled out here`);
      names.push(a.slice(a.indexOf('/') + 1));
    } else if (names.length === 0 && args.indexOf(a) === 0) {
      if (resolveKind(a) !== deployments) throw new MizzenError('USAGE', `${a}: only deployments can be rolled out here`);
      if (args.length === 1) names.push(...(await access.list(deployments, namespace)).map((d) => String(d.metadata?.name)));
    } else names.push(a);
  }
  return names;
}

/** kubectl's rollout status messages for one Deployment (undefined when it has rolled out). */
function pendingMessage(d: KubeObject): string | undefined {
  const want = Number(d.spec?.replicas ?? 1);
  const st = d.status ?? {};
  const updated = Number(st.updatedReplicas ?? 0);
  const total = Number(st.replicas ?? 0);
  const available = Number(st.availableReplicas ?? 0);
  const name = d.metadata?.name;
  if (updated < want) return `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${want} new replicas have been updated...`;
  if (total > updated) return `Waiting for deployment "${name}" rollout to finish: ${total - updated} old replicas are pending termination...`;
  if (available < updated) return `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`;
  return undefined;
}

/**
 * `mizzen rollout restart deployment/NAME [-n NS]`: new pods replace the old ones as a
 * Deployment's rolling update does (a new pod first; an old one drained and stopped once its
 * replacement is ready). `mizzen rollout status deployment/NAME` waits for it.
 */
export function register(program: Command, ctx: CliContext): void {
  const rollout = program.command('rollout').description('manage the rollout of Deployments in the local mesh (kubectl rollout)');
  rollout
    .command('restart')
    .description('restart the pods of Deployments with a rolling update')
    .argument('<resource...>', 'deployment/NAME..., deployment NAME..., or deployment (all in the namespace)')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (args: string[], flags: RolloutFlags) => {
      try {
        const access = openClusterAccess(flags, ctx.cwd);
        const ns = flags.namespace ?? 'default';
        const names = await deploymentNames(args, access, ns);
        if (names.length === 0) throw new MizzenError('USAGE', `no deployments found in ${ns} namespace`);
        for (const name of names) reportOutcome(await access.restart(ns, name), ctx);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
  rollout
    .command('status')
    .description('wait until a Deployment has rolled out')
    .argument('<resource...>', 'deployment/NAME')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('--timeout <duration>', 'give up after this long (e.g. 120s, 5m; default: no limit)')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (args: string[], flags: RolloutFlags) => {
      try {
        const access = openClusterAccess(flags, ctx.cwd);
        const ns = flags.namespace ?? 'default';
        const names = await deploymentNames(args, access, ns);
        const limit = flags.timeout ? parseDuration(flags.timeout) : Infinity;
        const deadline = Date.now() + limit;
        for (const name of names) {
          let last = '';
          for (;;) {
            const d = (await access.list(resolveKind('deployments'), ns)).find((x) => x.metadata?.name === name);
            if (!d) throw new MizzenError('USAGE', `deployments.apps "${name}" not found`);
            const msg = pendingMessage(d);
            if (!msg) break;
            if (msg !== last) ctx.stdout(`${msg}\n`);
            last = msg;
            if (Date.now() > deadline) throw new MizzenError('RUNTIME_FAILED', 'timed out waiting for the condition');
            await new Promise((r) => setTimeout(r, 250));
          }
          ctx.stdout(`deployment "${name}" successfully rolled out\n`);
        }
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}

/** `90s`, `5m`, `1h`, `500ms`, or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new MizzenError('USAGE', `invalid duration ${JSON.stringify(text)} (e.g. 90s, 5m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}
