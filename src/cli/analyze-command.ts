import type { Command } from 'commander';
import { stringify } from 'yaml';
import { analyze, analyzeClusters, selectAnalyzers, type ClusterInput } from '../control/analyze/analyze.ts';
import type { AnalysisMessage } from '../control/analyze/analysis-message.ts';
import { allAnalyzers } from '../control/analyze/all-analyzers.ts';
import { readMeshFile } from '../control/analyze/mesh-config-file.ts';
import { readConfigFiles } from '../control/config/read-config-files.ts';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, type KubeObject } from './cluster-access.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KINDS, lookupKind } from '../api/kinds.ts';
import { resourceKey, type ConfigResource } from '../api/config-resource.ts';
import { parseDocuments } from '../control/config/parse-documents.ts';
import { CONTROL_SOCKET } from '../runtime/control-client.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';

/** istioctl's exit status when analysis finds messages at or above the failure threshold. */
export const ANALYZE_ISSUES_FOUND = 79;

interface AnalyzeFlags {
  output?: string;
  meshConfigFile?: string;
  meshNetworksFile?: string;
  istioNamespace: string;
  analyzer?: string[];
  listAnalyzers?: boolean;
  failureThreshold: string;
  cluster?: string[];
  namespace?: string;
  allNamespaces?: boolean;
  useKube?: string;
  stateDir?: string;
}

const LEVELS = ['Info', 'Warning', 'Error'];

/** One line as istioctl prints it: `Error [IST0101] (VirtualService default/reviews FILE:LINE) message`. */
export function formatMessageLine(m: AnalysisMessage): string {
  return `${m.level} [${m.code}] (${m.resource}${reference(m) ? ` ${reference(m)}` : ''}) ${m.message}`;
}

/** `file:line` of the resource a message is about, when it came from a file. */
function reference(m: AnalysisMessage): string | undefined {
  return m.file ? `${m.file}${m.line ? `:${m.line}` : ''}` : undefined;
}

/**
 * istioctl's rule for files: a namespaced resource that names no namespace is in the namespace
 * being analyzed (-n, default `default`), as `kubectl apply` would put it.
 */
export function defaultNamespace(resources: readonly ConfigResource[], namespace: string): ConfigResource[] {
  return resources.map((r) => {
    const k = lookupKind(r.group, r.version, r.kind);
    if (r.metadata.namespace || (k.known && !k.info.namespaced) || (!k.known && CLUSTER_SCOPED_UNKNOWN.has(r.kind))) return r;
    return { ...r, metadata: { ...r.metadata, namespace }, raw: { ...r.raw, metadata: { ...((r.raw.metadata as object) ?? {}), namespace } } };
  });
}

/** Cluster-scoped kinds Mizzen does not serve but analyzers read (webhooks, CRDs). */
const CLUSTER_SCOPED_UNKNOWN = new Set(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'Node', 'GatewayClass']);

/** Every object of the running mesh (all kinds, all namespaces) as resources to analyze. */
async function liveResources(flags: AnalyzeFlags, ctx: CliContext): Promise<ConfigResource[]> {
  const access = openClusterAccess(flags, ctx.cwd);
  const items: KubeObject[] = [];
  for (const kind of KINDS) items.push(...(await access.list(kind, undefined)));
  return parseDocuments(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), 'cluster').resources.map((r) => {
    const { origin: _origin, ...rest } = r;
    return rest;
  });
}

async function run(paths: string[], flags: AnalyzeFlags, ctx: CliContext): Promise<void> {
  if (flags.listAnalyzers) {
    for (const a of allAnalyzers()) ctx.stdout(`${a.name}: ${a.description}${a.optional ? ' (optional: run with --analyzer)' : ''}\n`);
    return;
  }
  if (flags.output !== undefined && !['json', 'yaml', 'text', 'log'].includes(flags.output)) {
    ctx.stderr(`error: unknown output format "${flags.output}" (use json or yaml)\n`);
    ctx.exitCode = 2;
    return;
  }
  const threshold = LEVELS.findIndex((l) => l.toLowerCase() === flags.failureThreshold.toLowerCase());
  if (threshold < 0) {
    ctx.stderr(`error: --failure-threshold must be one of ${LEVELS.join(', ')}\n`);
    ctx.exitCode = 2;
    return;
  }
  const { unknown } = selectAnalyzers(flags.analyzer);
  if (unknown.length > 0) {
    ctx.stderr(`error: unknown analyzer ${unknown.join(', ')} (see --list-analyzers)\n`);
    ctx.exitCode = 2;
    return;
  }
  const clusterPaths = new Map<string, string[]>();
  for (const spec of flags.cluster ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) {
      ctx.stderr(`error: --cluster expects ID=PATH, got "${spec}"\n`);
      ctx.exitCode = 2;
      return;
    }
    const id = spec.slice(0, eq);
    clusterPaths.set(id, [...(clusterPaths.get(id) ?? []), spec.slice(eq + 1)]);
  }
  let meshConfig: Record<string, unknown> | undefined;
  let meshNetworks: Record<string, unknown> | undefined;
  try {
    if (flags.meshConfigFile) meshConfig = readMeshFile(flags.meshConfigFile, 'mesh');
    if (flags.meshNetworksFile) meshNetworks = readMeshFile(flags.meshNetworksFile, 'meshNetworks');
  } catch (err) {
    ctx.stderr(`error: ${errorMessage(err)}\n`);
    ctx.exitCode = 1;
    return;
  }
  // The running mesh, as istioctl analyzes the cluster: with no files, or under the files given.
  const stateDir = stateDirFrom(flags.stateDir, ctx.cwd);
  const useLive = clusterPaths.size === 0 && flags.useKube !== 'false' && (paths.length === 0 || existsSync(join(stateDir, CONTROL_SOCKET)));
  let live: ConfigResource[] = [];
  if (useLive) {
    try {
      live = await liveResources(flags, ctx);
    } catch (err) {
      if (paths.length > 0) live = [];
      else {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
        return;
      }
    }
  }
  const namespace = flags.allNamespaces ? undefined : (flags.namespace ?? 'default');
  const problems: ReturnType<typeof readConfigFiles>['problems'] = [];
  const read = (p: readonly string[]): ConfigResource[] => {
    const out = readConfigFiles(p);
    problems.push(...out.problems);
    return defaultNamespace(out.resources, namespace ?? 'default');
  };
  const options = { istioNamespace: flags.istioNamespace, meshConfig, meshNetworks, analyzers: flags.analyzer };
  let messages: AnalysisMessage[];
  if (clusterPaths.size > 0) {
    const clusters: ClusterInput[] = [...clusterPaths].map(([id, p]) => ({ id, resources: read(p) }));
    if (paths.length > 0) clusters.push({ id: 'Kubernetes', resources: read(paths) });
    messages = analyzeClusters(clusters, options);
  } else {
    // Files override the running mesh's objects of the same kind, namespace and name.
    const files = read(paths);
    const fromFiles = new Set(files.map(resourceKey));
    messages = analyze([...live.filter((r) => !fromFiles.has(resourceKey(r))), ...files], { ...options, defaultResources: !useLive });
  }
  // Live analysis reports on the namespace analyzed (-n, default `default`; -A: all), as istioctl.
  if (useLive && namespace !== undefined) {
    messages = messages.filter((m) => {
      const [kind, ref] = m.resource.split(' ');
      if (ref?.includes('/')) return ref.startsWith(`${namespace}/`);
      return kind !== 'Namespace' || ref === namespace;
    });
  }
  for (const p of problems) ctx.stderr(`${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.message}\n`);
  const out = messages.map((m) => ({ code: m.code, name: m.name, level: m.level, resource: m.resource, ...(reference(m) ? { reference: reference(m) } : {}), message: m.message }));
  if (flags.output === 'json') {
    ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
  } else if (flags.output === 'yaml') {
    ctx.stdout(stringify(out));
  } else if (messages.length === 0) {
    // A file that could not be read or parsed was not analyzed: no "no issues" then.
    if (problems.length > 0) ctx.stderr(`Error: ${problems.length} file problem(s): the files above were not analyzed\n`);
    else if (useLive && paths.length === 0) ctx.stderr(`\u2714 No validation issues found when analyzing ${namespace === undefined ? 'all namespaces' : `namespace: ${namespace}`}.\n`);
    else ctx.stderr('\u2714 No validation issues found when analyzing the given files.\n');
  } else {
    for (const m of messages) ctx.stdout(`${formatMessageLine(m)}\n`);
  }
  if (messages.some((m) => LEVELS.indexOf(m.level) >= threshold)) ctx.exitCode = ANALYZE_ISSUES_FOUND;
  else if (problems.length > 0) ctx.exitCode = 1;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('analyze')
    .description(
      "Run Istio's analyzers over config files and/or the running local mesh (like istioctl analyze). Exit status: 0 when no message reaches the " +
        `failure threshold, ${ANALYZE_ISSUES_FOUND} when some does (as istioctl), 1 when a file cannot be read or parsed, 2 on bad usage.`,
    )
    .argument('[paths...]', 'files or directories (walked recursively for *.yaml, *.yml, *.json); none: the running local mesh')
    .option('-n, --namespace <ns>', 'namespace of resources that name none, and the namespace analyzed in the running mesh (default: default)')
    .option('-A, --all-namespaces', 'analyze every namespace of the running mesh')
    .option('--use-kube <bool>', 'analyze the files together with the running mesh (true when one runs here); false: files only')
    .option('--state-dir <dir>', 'state directory of the running mesh (default .mizzen in the current directory)')
    .option('-o, --output <format>', 'output format: json or yaml (default: text lines like istioctl)')
    .option('--meshConfigFile <file>', 'MeshConfig to use (plain YAML or the istio ConfigMap)')
    .option('--meshNetworksFile <file>', 'MeshNetworks to use (plain YAML or the istio ConfigMap)')
    .option('--istioNamespace <ns>', "Istio's system namespace", 'istio-system')
    .option('--analyzer <name>', 'run only this analyzer (repeatable; see --list-analyzers)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--cluster <id=path>', 'multi-cluster analysis: files of one cluster (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--list-analyzers', 'list the available analyzers and exit')
    .option('--failure-threshold <level>', 'lowest level that makes the exit status non-zero: Info, Warning, Error', 'Error')
    .action((paths: string[], flags: AnalyzeFlags) => run(paths, flags, ctx));
}
