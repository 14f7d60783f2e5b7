import type { Command } from 'commander';
import { stringify } from 'yaml';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';
import { formatTable } from './text-table.ts';

/**
 * `mizzen waypoint apply|list|delete|status` (istioctl waypoint's verbs) against the running local
 * mesh: a waypoint is a Gateway API `Gateway` of class `istio-waypoint` with one listener `mesh`
 * (15008, HBONE) and an optional `istio.io/waypoint-for` label; `--enroll-namespace` labels the
 * namespace `istio.io/use-waypoint=NAME`. `apply` waits until the waypoint is programmed (its pod
 * ready), as istioctl does by default.
 */
interface Raw {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { gatewayClassName?: string };
  status?: { addresses?: { value: string }[]; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

interface Flags {
  namespace?: string;
  allNamespaces?: boolean;
  name?: string;
  for?: string;
  enrollNamespace?: boolean;
  overwrite?: boolean;
  wait?: boolean;
  timeout?: string;
  all?: boolean;
  stateDir?: string;
}

const WAYPOINT_CLASS = 'istio-waypoint';
const TRAFFIC_TYPES = ['service', 'workload', 'all', 'none'];

const isWaypoint = (r: Raw): boolean => (r.apiVersion ?? '').startsWith('gateway.networking.k8s.io/') && r.spec?.gatewayClassName === WAYPOINT_CLASS;
const programmed = (r: Raw): boolean => r.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True') === true;

function client(ctx: CliContext, flags: Flags): ControlClient {
  return new ControlClient(stateDirFrom(flags.stateDir, ctx.cwd));
}

async function waypoints(c: ControlClient, namespace: string | undefined): Promise<Raw[]> {
  return (await c.get<Raw[]>('/objects', { kind: 'Gateway', namespace })).filter(isWaypoint);
}

async function change(c: ControlClient, ctx: CliContext, verb: 'apply' | 'delete', docs: readonly Raw[]): Promise<boolean> {
  const text = docs.map((d) => stringify(d)).join('---\n');
  const r = await c.post<{ ok: boolean; errors: string[]; warnings?: string[] }>(`/${verb}`, { files: [{ file: `mizzen waypoint ${verb}`, text }] });
  for (const w of r.warnings ?? []) ctx.stderr(`warning: ${w}\n`);
  for (const e of r.errors) ctx.stderr(`error: ${e}\n`);
  return r.ok;
}

function gatewayDoc(name: string, namespace: string, trafficType: string | undefined): Raw {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace, ...(trafficType ? { labels: { 'istio.io/waypoint-for': trafficType } } : {}) },
    spec: { gatewayClassName: WAYPOINT_CLASS, listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } as Raw['spec'],
  };
}

function seconds(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const m = /^(\d+)(s|m)?$/.exec(v);
  if (!m) throw new MizzenError('USAGE', `--timeout must look like 60s or 2m (got ${v})`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

async function apply(ctx: CliContext, flags: Flags): Promise<void> {
  const ns = flags.namespace ?? 'default';
  const name = flags.name ?? 'waypoint';
  if (name === 'none') throw new MizzenError('USAGE', 'the name "none" is reserved (istio.io/use-waypoint: none opts out of a waypoint)');
  if (flags.for !== undefined && !TRAFFIC_TYPES.includes(flags.for)) throw new MizzenError('USAGE', `--for must be one of ${TRAFFIC_TYPES.join(', ')} (got ${flags.for})`);
  const c = client(ctx, flags);
  const existing = (await waypoints(c, ns)).find((w) => w.metadata?.name === name);
  if (existing && !flags.overwrite && flags.for !== undefined && existing.metadata?.labels?.['istio.io/waypoint-for'] !== flags.for) {
    throw new MizzenError('USAGE', `waypoint ${ns}/${name} already exists with another traffic type; use --overwrite to change it`);
  }
  if (!(await change(c, ctx, 'apply', [gatewayDoc(name, ns, flags.for ?? existing?.metadata?.labels?.['istio.io/waypoint-for'])]))) {
    ctx.exitCode = 1;
    return;
  }
  ctx.stdout(`waypoint ${ns}/${name} applied\n`);
  if (flags.enrollNamespace) {
    const current = (await c.get<Raw[]>('/objects', { kind: 'Namespace' })).find((n) => n.metadata?.name === ns);
    const doc: Raw = { apiVersion: 'v1', kind: 'Namespace', metadata: { ...(current?.metadata ?? {}), name: ns, labels: { ...(current?.metadata?.labels ?? {}), 'istio.io/use-waypoint': name } } };
    delete doc.metadata!.namespace;
    if (!(await change(c, ctx, 'apply', [doc]))) {
      ctx.exitCode = 1;
      return;
    }
    ctx.stdout(`namespace ${ns} labeled with "istio.io/use-waypoint: ${name}"\n`);
  }
  if (flags.wait === false) return;
  const deadline = Date.now() + seconds(flags.timeout, 60) * 1000;
  for (;;) {
    const w = (await waypoints(c, ns)).find((x) => x.metadata?.name === name);
    if (w && programmed(w)) {
      ctx.stdout(`waypoint ${ns}/${name} is programmed (${w.status?.addresses?.[0]?.value ?? ''})\n`);
      return;
    }
    if (Date.now() > deadline) throw new MizzenError('UNAVAILABLE', `waypoint ${ns}/${name} is not programmed yet: its pod is not ready (mizzen get pods -n ${ns})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function list(ctx: CliContext, flags: Flags): Promise<void> {
  const ns = flags.allNamespaces ? undefined : (flags.namespace ?? 'default');
  const items = await waypoints(client(ctx, flags), ns);
  if (items.length === 0) {
    ctx.stdout(ns ? `No waypoints found in namespace ${ns}.\n` : 'No waypoints found.\n');
    return;
  }
  const rows = [[...(ns ? [] : ['NAMESPACE']), 'NAME', 'TRAFFIC-TYPE', 'PROGRAMMED', 'ADDRESS']];
  for (const w of items) rows.push([...(ns ? [] : [w.metadata?.namespace ?? '']), w.metadata?.name ?? '', w.metadata?.labels?.['istio.io/waypoint-for'] ?? 'service', programmed(w) ? 'True' : 'False', w.status?.addresses?.[0]?.value ?? '']);
  ctx.stdout(formatTable(rows[0], rows.slice(1)));
}

async function status(ctx: CliContext, flags: Flags): Promise<void> {
  const ns = flags.namespace ?? 'default';
  const items = (await waypoints(client(ctx, flags), ns)).filter((w) => !flags.name || w.metadata?.name === flags.name);
  if (items.length === 0) throw new MizzenError('USAGE', `no waypoint ${flags.name ? `${ns}/${flags.name}` : `in namespace ${ns}`}`);
  const rows = [['NAMESPACE', 'NAME', 'STATUS', 'TYPE', 'REASON', 'MESSAGE']];
  for (const w of items) for (const c of w.status?.conditions ?? []) rows.push([ns, w.metadata?.name ?? '', c.status, c.type, c.reason ?? '', c.message ?? '']);
  ctx.stdout(formatTable(rows[0], rows.slice(1)));
}

async function remove(ctx: CliContext, flags: Flags, names: string[]): Promise<void> {
  const ns = flags.namespace ?? 'default';
  const c = client(ctx, flags);
  const existing = await waypoints(c, ns);
  const chosen = flags.all ? existing : existing.filter((w) => (names.length > 0 ? names : ['waypoint']).includes(w.metadata?.name ?? ''));
  const missing = (flags.all ? [] : names).filter((n) => !existing.some((w) => w.metadata?.name === n));
  if (missing.length > 0) throw new MizzenError('USAGE', `no waypoint ${missing.map((n) => `${ns}/${n}`).join(', ')}`);
  if (chosen.length === 0) {
    ctx.stdout(`No waypoints found in namespace ${ns}.\n`);
    return;
  }
  if (!(await change(c, ctx, 'delete', chosen.map((w) => gatewayDoc(w.metadata!.name!, ns, undefined))))) {
    ctx.exitCode = 1;
    return;
  }
  for (const w of chosen) ctx.stdout(`waypoint ${ns}/${w.metadata?.name} deleted\n`);
}

export function register(program: Command, ctx: CliContext): void {
  const wp = program.command('waypoint').description('manage waypoints of the local mesh (istioctl waypoint)');
  const run = (fn: (flags: Flags, args: string[]) => Promise<void>) => async (...a: unknown[]): Promise<void> => {
    try {
      const args = a.filter((x): x is string[] => Array.isArray(x))[0] ?? [];
      const flags = a.find((x): x is Flags => typeof x === 'object' && x !== null && !Array.isArray(x) && !('commands' in x)) ?? {};
      await fn(flags, args);
    } catch (err) {
      ctx.stderr(`error: ${errorMessage(err)}\n`);
      ctx.exitCode = 1;
    }
  };
  const common = (c: Command): Command => c.option('-n, --namespace <ns>', 'namespace (default: default)').option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)');
  common(wp.command('apply').description('create or update a waypoint (Gateway of class istio-waypoint)'))
    .option('--name <name>', 'waypoint name', 'waypoint')
    .option('--for <type>', 'traffic the waypoint takes: service (default), workload, all, none (label istio.io/waypoint-for)')
    .option('--enroll-namespace', 'label the namespace istio.io/use-waypoint=NAME')
    .option('--overwrite', 'replace an existing waypoint of another traffic type')
    .option('--no-wait', 'do not wait until the waypoint is programmed')
    .option('--timeout <duration>', 'how long to wait for it (default 60s)')
    .action(run((flags) => apply(ctx, flags)));
  common(wp.command('list').description('list waypoints'))
    .option('-A, --all-namespaces', 'all namespaces')
    .action(run((flags) => list(ctx, flags)));
  common(wp.command('status').description('show a waypoint\'s status conditions'))
    .option('--name <name>', 'waypoint name (default: all in the namespace)')
    .action(run((flags) => status(ctx, flags)));
  common(wp.command('delete').description('delete waypoints (default: the one named waypoint)').argument('[names...]', 'waypoint names'))
    .option('--all', 'every waypoint of the namespace')
    .action(run((flags, names) => remove(ctx, flags, names)));
}
