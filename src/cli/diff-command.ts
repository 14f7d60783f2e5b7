import type { Command } from 'commander';
import { isDeepStrictEqual } from 'node:util';
import { lineOfField, resourceKey, resourceRef, type ConfigResource } from '../api/config-resource.ts';
import { submittedValidator } from '../control/config/support/served-validator.ts';
import { validateResource } from '../control/config/validation/validate-resource.ts';
import { KINDS, kindByName } from '../api/kinds.ts';
import { analyze } from '../control/analyze/analyze.ts';
import type { AnalysisMessage } from '../control/analyze/analysis-message.ts';
import { parseDocuments } from '../control/config/parse-documents.ts';
import { jsonDiff, type ProxyChanges } from '../control/debug/what-if.ts';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { defaultNamespace, formatMessageLine } from './analyze-command.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, readFilenameArgs, requireFilenames, type KubeObject, type SubmittedFile } from './cluster-access.ts';
import { defaultDiscoveryAddress, fetchDiscoveryJson } from './discovery-debug-client.ts';

export interface DiffFlags {
  filename: string[];
  namespace?: string;
  stateDir?: string;
  discoveryAddress?: string;
  output?: string;
}

interface WhatIfAnswer {
  errors: string[];
  warnings: string[];
  proxies: ProxyChanges[];
}

/** What applying would do to one object: kubectl's verb and the fields that change. */
interface ObjectChange {
  resource: ConfigResource;
  verb: 'created' | 'configured' | 'unchanged';
  fields: string[];
}

const USER_META = ['name', 'namespace', 'labels', 'annotations'];

/** The part of an object a user writes (no status, no server-set metadata), to compare. */
function userContent(o: Record<string, unknown>): Record<string, unknown> {
  const meta = (o.metadata ?? {}) as Record<string, unknown>;
  const { status: _s, metadata: _m, ...rest } = o;
  const kept = Object.fromEntries(USER_META.filter((k) => meta[k] !== undefined).map((k) => [k, meta[k]]));
  if (o.kind === 'Service' && typeof rest.spec === 'object' && rest.spec !== null) {
    const { clusterIP: _ip, clusterIPs: _ips, ...spec } = rest.spec as Record<string, unknown>;
    return { ...rest, spec, metadata: kept };
  }
  return { ...rest, metadata: kept };
}

/** Every object of the running mesh (all kinds, all namespaces), as resources. */
async function liveObjects(flags: DiffFlags, ctx: CliContext): Promise<{ objects: KubeObject[]; resources: ConfigResource[] }> {
  const access = openClusterAccess(flags, ctx.cwd);
  const objects: KubeObject[] = [];
  for (const kind of KINDS) objects.push(...(await access.list(kind, undefined)));
  const resources = parseDocuments(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }), 'cluster').resources.map((r) => {
    const { origin: _o, ...rest } = r;
    return rest;
  });
  return { objects, resources };
}

function objectChanges(submitted: readonly ConfigResource[], live: readonly KubeObject[]): ObjectChange[] {
  const byKey = new Map(live.map((o) => [`${o.apiVersion?.includes('/') ? o.apiVersion.slice(0, o.apiVersion.lastIndexOf('/')) : ''}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, o]));
  return submitted.map((r) => {
    const cur = byKey.get(resourceKey(r));
    if (!cur) return { resource: r, verb: 'created', fields: [] };
    const before = userContent({ ...cur, apiVersion: r.apiVersion });
    const after = userContent(r.raw);
    if (isDeepStrictEqual(before, after)) return { resource: r, verb: 'unchanged', fields: [] };
    return { resource: r, verb: 'configured', fields: jsonDiff(before, after) };
  });
}

/** Analyzer messages the change would add (present after, not before). */
function newMessages(before: readonly ConfigResource[], after: readonly ConfigResource[]): AnalysisMessage[] {
  const key = (m: AnalysisMessage): string => `${m.code}\0${m.resource}\0${m.message}`;
  const had = new Set(analyze(before, { defaultResources: false }).map(key));
  return analyze(after, { defaultResources: false }).filter((m) => !had.has(key(m)));
}

function kindLabel(r: ConfigResource): string {
  return `${r.kind.toLowerCase()}${r.group ? `.${r.group}` : ''}/${r.metadata.name}`;
}

/**
 * `mizzen diff -f FILE` and `mizzen apply --dry-run=server -f FILE`: before applying, which
 * objects change, which proxies' xDS would change and how (listeners, routes, clusters,
 * endpoints, resource by resource), and the analyzers' new messages. Nothing is applied.
 * diff exits 0 when nothing would change, 1 when something would (kubectl diff's rule), >1 on
 * errors.
 */
export async function runDiff(flags: DiffFlags, ctx: CliContext, mode: { dryRunApply: boolean }): Promise<void> {
  requireFilenames(flags.filename);
  const { files, errors } = readFilenameArgs(flags.filename, ctx.cwd);
  if (errors.length > 0) throw new MizzenError('CONFIG_IO', errors.join('\n'));
  const submitted = defaultNamespace(submittedResources(files, flags.namespace), flags.namespace ?? 'default');
  const address = flags.discoveryAddress ?? defaultDiscoveryAddress(ctx.cwd);
  const answer = (await fetchDiscoveryJson(address, '/debug/whatif', 60_000, { files, namespace: flags.namespace })) as WhatIfAnswer;
  for (const w of answer.warnings) ctx.stderr(`Warning: ${w}\n`);
  if (answer.errors.length > 0) {
    for (const e of answer.errors) ctx.stderr(`error: ${e}\n`);
    ctx.exitCode = mode.dryRunApply ? 1 : 2;
    return;
  }
  const live = await liveObjects(flags, ctx);
  const objects = objectChanges(submitted, live.objects);
  const fromFiles = new Set(submitted.map(resourceKey));
  const messages = newMessages(live.resources, [...live.resources.filter((r) => !fromFiles.has(resourceKey(r))), ...submitted]);
  const changed = answer.proxies.filter((p) => p.changes.length > 0);
  if (flags.output === 'json') {
    ctx.stdout(`${JSON.stringify({ objects: objects.map((o) => ({ object: resourceRef(o.resource), change: o.verb, fields: o.fields })), proxies: answer.proxies, analysis: messages }, null, 2)}\n`);
  } else {
    const suffix = mode.dryRunApply ? ' (server dry run)' : '';
    for (const o of objects) {
      ctx.stdout(`${kindLabel(o.resource)} ${o.verb}${suffix}\n`);
      if (!mode.dryRunApply) for (const f of o.fields) ctx.stdout(`    ${f}\n`);
    }
    ctx.stdout(`\nxDS: ${changed.length} of ${answer.proxies.length} connected prox${answer.proxies.length === 1 ? 'y' : 'ies'} would change\n`);
    // Proxies that would change the same way are shown once.
    const groups = new Map<string, ProxyChanges[]>();
    for (const p of changed) groups.set(JSON.stringify(p.changes), [...(groups.get(JSON.stringify(p.changes)) ?? []), p]);
    for (const group of groups.values()) {
      ctx.stdout(`  ${group.map((p) => p.proxy).join(', ')}\n`);
      for (const c of group[0].changes) {
        ctx.stdout(`    ${c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~'} ${c.type} ${c.name}${c.change === 'modified' ? '' : ` (${c.change})`}\n`);
        for (const f of c.fields) ctx.stdout(`        ${f.length > 200 ? `${f.slice(0, 197)}...` : f}\n`);
      }
    }
    ctx.stdout(messages.length === 0 ? '\nanalysis: no new messages\n' : `\nanalysis: ${messages.length} new message(s)\n`);
    for (const m of messages) ctx.stdout(`  ${formatMessageLine(m)}\n`);
  }
  if (!mode.dryRunApply) ctx.exitCode = changed.length > 0 || objects.some((o) => o.verb !== 'unchanged') ? 1 : 0;
}

/** The submitted resources, each with its file and line, for the object comparison and analysis. */
function submittedResources(files: readonly SubmittedFile[], namespace: string | undefined): ConfigResource[] {
  const out: ConfigResource[] = [];
  for (const f of files) {
    for (const r of parseDocuments(f.text, f.file, { fieldLines: true }).resources) {
      if (namespace && r.metadata.namespace && r.metadata.namespace !== namespace) throw new MizzenError('USAGE', `${f.file}: ${resourceRef(r)}: the namespace from the provided object "${r.metadata.namespace}" does not match the namespace "${namespace}"`);
      if (!kindByName(r.kind)) continue;
      out.push(r);
    }
  }
  return out;
}

/**
 * `apply --dry-run=client|server`: client validates as apply would (schema, semantics, what
 * Mizzen refuses) and prints kubectl's lines; server is `mizzen diff` with kubectl's
 * `(server dry run)` lines. Nothing is applied either way.
 */
export async function runDryRun(flags: DiffFlags, ctx: CliContext, server: boolean): Promise<void> {
  if (server) return runDiff(flags, ctx, { dryRunApply: true });
  const { files, errors } = readFilenameArgs(flags.filename, ctx.cwd);
  if (errors.length > 0) throw new MizzenError('CONFIG_IO', errors.join('\n'));
  const validate = submittedValidator(validateResource);
  let failed = false;
  for (const r of defaultNamespace(submittedResources(files, flags.namespace), flags.namespace ?? 'default')) {
    const v = validate(r);
    for (const w of v.warnings) ctx.stderr(`Warning: ${r.origin?.file}:${lineOfField(r.origin, w.path)}: ${resourceRef(r)}: ${w.path}: ${w.message}\n`);
    for (const e of v.errors) ctx.stderr(`error: ${r.origin?.file}:${lineOfField(r.origin, e.path)}: ${resourceRef(r)}: ${e.path}: ${e.message}\n`);
    if (v.errors.length > 0) failed = true;
    else ctx.stdout(`${kindLabel(r)} configured (dry run)\n`);
  }
  if (failed) ctx.exitCode = 1;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('diff')
    .description('show what applying files would change before applying them: objects, each proxy\'s xDS (listeners, routes, clusters, endpoints) and new analyzer messages; exit 1 when something would change')
    .option('-f, --filename <path>', 'file, directory or - for standard input (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('-n, --namespace <ns>', 'namespace for resources that do not name one')
    .option('-o, --output <format>', 'text (default) or json')
    .option('--discovery-address <addr>', "discovery's debug address (default: the local mesh's)")
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (flags: DiffFlags) => {
      try {
        await runDiff(flags, ctx, { dryRunApply: false });
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 2;
      }
    });
}
