import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { MizzenError, errorMessage } from '../lib/errors.ts';
import type { ProxySyncStatus } from '../control/debug/sync-status.ts';
import { CONTROL_SOCKET } from '../runtime/control-client.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';
import { addKubeDiscoveryOptions, openDiscoveryTarget, type DiscoveryTargetFlags } from './discovery-target.ts';
import { openClusterAccess } from './cluster-access.ts';
import { fetchDiscoveryJson } from './discovery-debug-client.ts';
import { renderAll, renderKind, section, type ProxyConfigFilters, type TableKind } from './proxy-config-tables.ts';
import { formatTable } from './text-table.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Flags extends DiscoveryTargetFlags {
  output?: string;
  namespace?: string;
  stateDir?: string;
  port?: string;
  fqdn?: string;
  subset?: string;
  direction?: string;
  name?: string;
  address?: string;
  cluster?: string;
  status?: string;
  type?: string;
  level?: string;
}

const KINDS = ['all', 'bootstrap', 'clusters', 'endpoints', 'listeners', 'log', 'routes', 'secret'] as const;
type Kind = (typeof KINDS)[number];
const ALIASES: Record<string, Kind> = {
  all: 'all', a: 'all',
  bootstrap: 'bootstrap', b: 'bootstrap',
  cluster: 'clusters', clusters: 'clusters', c: 'clusters',
  endpoint: 'endpoints', endpoints: 'endpoints', ep: 'endpoints', e: 'endpoints',
  listener: 'listeners', listeners: 'listeners', l: 'listeners',
  log: 'log', o: 'log',
  route: 'routes', routes: 'routes', r: 'routes',
  secret: 'secret', secrets: 'secret', s: 'secret',
};

/** `POD.NS` → pod and namespace (istioctl's form); `-n` wins for a bare POD. */
function podAndNamespace(pod: string, flagNs: string | undefined): { pod: string; namespace: string } {
  const m = /^((?:deploy|deployment|deployments)\/)?([^.~]+)(?:\.(.+))?$/.exec(pod);
  if (!m) return { pod, namespace: flagNs ?? 'default' };
  return { pod: `${m[1] ? 'deploy/' : ''}${m[2]}`, namespace: m[3] ?? flagNs ?? 'default' };
}

/**
 * Where the configuration comes from: the proxy itself (its admin, from inside the pod, as
 * istioctl does) when the pod runs in the local mesh; else what discovery sent it
 * (`--discovery-address`, or discovery's default address when no mesh runs here).
 */
async function configDump(kind: Kind, pod: string, flags: Flags, ctx: CliContext): Promise<{ dump: Obj; from: string }> {
  // The local mesh, or an `up --kube` state (the proxy's admin through the pod's exec subresource, as istioctl).
  const stateDir = stateDirFrom(flags.stateDir, ctx.cwd);
  const local = !flags.discoveryAddress && flags.kubeconfig === undefined && flags.context === undefined && (existsSync(join(stateDir, CONTROL_SOCKET)) || existsSync(join(stateDir, 'kube.json')));
  const { pod: name, namespace } = podAndNamespace(pod, flags.namespace);
  if (local && !pod.includes('~')) {
    const access = openClusterAccess(flags, ctx.cwd);
    const includeEds = kind === 'endpoints' || kind === 'all' ? '?include_eds' : '';
    const r = await access.proxyAdmin(namespace, name, 'GET', `/config_dump${includeEds}`);
    return { dump: JSON.parse(r.body) as Obj, from: `${r.pod}.${namespace}` };
  }
  if (kind === 'log') throw new MizzenError('USAGE', 'proxy-config log needs the pod in the local mesh (its proxy admin)');
  const target = await openDiscoveryTarget(flags, ctx);
  try {
    const proxyId = await resolveProxyId(target.address, pod.includes('~') ? pod : name, namespace);
    return { dump: (await fetchDiscoveryJson(target.address, `/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`)) as Obj, from: proxyId };
  } finally {
    await target.close();
  }
}

function filtersOf(flags: Flags): ProxyConfigFilters {
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !Number.isInteger(port)) throw new MizzenError('USAGE', `--port must be a number (got ${flags.port})`);
  return { port, fqdn: flags.fqdn, subset: flags.subset, direction: flags.direction, name: flags.name, address: flags.address, cluster: flags.cluster, status: flags.status, type: flags.type };
}

function print(value: unknown, output: string | undefined, ctx: CliContext): void {
  if (output === 'yaml') ctx.stdout(stringify(value, { lineWidth: 0 }));
  else ctx.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * `mizzen proxy-config KIND POD[.NS]` (alias pc): a proxy's configuration as istioctl shows it
 * (clusters, listeners, routes, endpoints, secret, all, bootstrap, log), with istioctl's filters.
 */
export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('proxy-config')
    .alias('pc')
    .description("show a proxy's configuration as istioctl does: clusters|listeners|routes|endpoints|secret|all|bootstrap|log (from the proxy's admin in the local mesh, else what discovery sent)")
    .argument('<kind>', KINDS.join(', '))
    .argument('<pod>', 'POD[.NAMESPACE], deploy/NAME[.NAMESPACE], or a node ID')
    .option('-n, --namespace <ns>', 'namespace of the pod (default: from POD.NS, else default)')
    .option('-o, --output <format>', 'output format: table (default), json or yaml')
    .option('--port <port>', 'clusters/listeners/endpoints: only this port')
    .option('--fqdn <host>', 'clusters: only this service FQDN (or short name)')
    .option('--subset <name>', 'clusters: only this subset')
    .option('--direction <dir>', 'clusters: inbound or outbound')
    .option('--name <name>', 'routes: only this route configuration; listeners: only this listener')
    .option('--address <ip>', 'listeners/endpoints: only this address')
    .option('--type <type>', 'listeners: HTTP or TCP')
    .option('--cluster <name>', 'endpoints: only this cluster')
    .option('--status <status>', 'endpoints: healthy or unhealthy')
    .option('--level <levels>', 'log: set levels (LEVEL or component:LEVEL,...) before printing them')
    .option('--discovery-address <addr>', "ask discovery for what it sent (HOST:PORT or unix:/path) instead of the proxy; without a local mesh, discovery is reached through the API server of --kubeconfig, $KUBECONFIG or ~/.kube/config when there is one, else 127.0.0.1:15014")
    .option('--state-dir <dir>', 'state directory of the local mesh (default .mizzen in the current directory)');
  addKubeDiscoveryOptions(command)
    .action(async (kindArg: string, pod: string, flags: Flags) => {
      const kind = ALIASES[kindArg];
      if (!kind) {
        ctx.stderr(`error: unknown config kind ${JSON.stringify(kindArg)}: want one of ${KINDS.join(', ')}\n`);
        ctx.exitCode = 2;
        return;
      }
      if (flags.output !== undefined && !['json', 'yaml', 'table', 'short'].includes(flags.output)) {
        ctx.stderr(`error: -o ${flags.output}: want json, yaml or table\n`);
        ctx.exitCode = 2;
        return;
      }
      try {
        if (kind === 'log') return await logLevels(pod, flags, ctx);
        const filters = filtersOf(flags);
        const { dump } = await configDump(kind, pod, flags, ctx);
        const structured = flags.output === 'json' || flags.output === 'yaml';
        if (kind === 'bootstrap') return print(section(dump, 'bootstrap'), flags.output, ctx);
        if (kind === 'all') {
          if (structured) print(dump, flags.output, ctx);
          else ctx.stdout(renderAll(dump, filters));
          return;
        }
        const out = renderKind(kind as TableKind, section(dump, kind), filters);
        if (structured) print(out.json, flags.output, ctx);
        else ctx.stdout(formatTable(out.header, out.rows));
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}

/** `proxy-config log POD [--level ...]`: the proxy's loggers and their levels (Envoy's /logging). */
async function logLevels(pod: string, flags: Flags, ctx: CliContext): Promise<void> {
  const { pod: name, namespace } = podAndNamespace(pod, flags.namespace);
  const access = openClusterAccess(flags, ctx.cwd);
  let query = '';
  if (flags.level) {
    const params = new URLSearchParams();
    for (const part of flags.level.split(',').map((p) => p.trim()).filter(Boolean)) {
      const [a, b] = part.includes(':') ? part.split(':') : [undefined, part];
      // Envoy's and istioctl's names: warning, critical, off.
      const level = ({ warning: 'warn', critical: 'fatal', off: 'silent' } as Record<string, string>)[b!] ?? b!;
      params.set(a ?? 'level', level);
    }
    query = `?${params.toString()}`;
  }
  const r = await access.proxyAdmin(namespace, name, 'POST', `/logging${query}`);
  ctx.stdout(r.body);
}

/**
 * `POD[.NS]`, a node ID, or `deploy/NAME` (as istioctl takes it: the first connected proxy of
 * that Deployment, whose pods are named `NAME-HASH-SUFFIX`).
 */
async function resolveProxyId(address: string, pod: string, namespace: string): Promise<string> {
  if (!pod.startsWith('deploy/')) return pod.includes('~') ? pod : `${pod}.${namespace}`;
  const name = pod.slice(pod.indexOf('/') + 1);
  const proxies = (await fetchDiscoveryJson(address, '/debug/syncz')) as ProxySyncStatus[];
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[a-z0-9]+-[a-z0-9]+$`);
  const match = proxies.filter((p) => p.namespace === namespace && pattern.test(p.podName)).sort((a, b) => a.name.localeCompare(b.name))[0];
  if (!match) throw new MizzenError('USAGE', `no connected proxy of deployment ${namespace}/${name}`, { hint: 'mizzen proxy-status lists the connected proxies' });
  return match.name;
}
