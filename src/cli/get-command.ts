import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { containerProblems, describeProblem } from '../runtime/container-problems.ts';
import { ControlClient } from '../runtime/control-client.ts';
import type { DeploymentStatusView } from '../runtime/mesh-status-views.ts';
import type { ServiceStatusView } from '../runtime/service-endpoints.ts';
import type { PodStatusView } from '../runtime/pod-instance.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';

interface GetFlags {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  stateDir?: string;
}

const RESOURCES: Record<string, 'pods' | 'services' | 'deployments'> = {
  pod: 'pods', pods: 'pods', po: 'pods',
  service: 'services', services: 'services', svc: 'services',
  deployment: 'deployments', deployments: 'deployments', deploy: 'deployments',
};

/** kubectl-style table: columns padded to their widest cell, three spaces apart. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('').trimEnd()).join('\n') + '\n';
}

function age(createdAt: number): string {
  const s = Math.max(0, Math.floor((Date.now() - createdAt) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/** `mizzen get pods|services|deployments`: what runs in the local mesh. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .description('list pods, services or deployments of the local mesh (kubectl-style)')
    .argument('<resource>', 'pods | services | deployments')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('-A, --all-namespaces', 'all namespaces')
    .option('-o, --output <format>', 'json | wide')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (resource: string, flags: GetFlags) => {
      try {
        const kind = RESOURCES[resource.toLowerCase()];
        if (!kind) throw new MizzenError('USAGE', `unknown resource ${JSON.stringify(resource)}: use pods, services or deployments`);
        const ns = flags.allNamespaces ? undefined : (flags.namespace ?? 'default');
        const client = new ControlClient(stateDirFrom(flags.stateDir, ctx.cwd));
        const items = await client.get<unknown[]>(`/${kind}`, { namespace: ns });
        if (flags.output === 'json') {
          ctx.stdout(`${JSON.stringify({ kind: 'List', items }, null, 2)}\n`);
          return;
        }
        if (items.length === 0) {
          ctx.stdout(ns ? `No resources found in ${ns} namespace.\n` : 'No resources found\n');
          return;
        }
        const wide = flags.output === 'wide';
        const nsCol = (n: string): string[] => (ns === undefined ? [n] : []);
        const head = ns === undefined ? ['NAMESPACE'] : [];
        let rows: string[][];
        if (kind === 'pods') {
          rows = [[...head, 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'SIDECAR'] : [])]];
          for (const p of items as PodStatusView[]) {
            rows.push([...nsCol(p.namespace), p.name, `${p.readyCount}/${p.containerCount}`, p.phase, String(p.restarts), age(p.createdAt), ...(wide ? [p.ip, p.sidecar ? 'yes' : 'no'] : [])]);
          }
        } else if (kind === 'services') {
          rows = [[...head, 'NAME', 'TYPE', 'CLUSTER-IP', 'PORT(S)', 'ENDPOINTS']];
          for (const s of items as ServiceStatusView[]) rows.push([...nsCol(s.namespace), s.name, 'ClusterIP', s.clusterIP, s.ports || '<none>', String(s.endpoints)]);
        } else {
          rows = [[...head, 'NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE']];
          for (const d of items as DeploymentStatusView[]) rows.push([...nsCol(d.namespace), d.name, `${d.ready}/${d.replicas}`, String(d.upToDate), String(d.ready)]);
        }
        ctx.stdout(formatTable(rows));
        // Why a pod is not running (kubectl shows it in `describe`; here it comes with the list).
        if (kind === 'pods') for (const p of containerProblems(items as PodStatusView[])) ctx.stderr(`Warning: ${describeProblem(p)}\n`);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
