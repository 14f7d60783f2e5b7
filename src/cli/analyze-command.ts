import type { Command } from 'commander';
import { stringify } from 'yaml';
import { analyze, analyzeClusters, selectAnalyzers, type ClusterInput } from '../control/analyze/analyze.ts';
import type { AnalysisMessage } from '../control/analyze/analysis-message.ts';
import { allAnalyzers } from '../control/analyze/all-analyzers.ts';
import { readMeshFile } from '../control/analyze/mesh-config-file.ts';
import { readConfigFiles } from '../control/config/read-config-files.ts';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';

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
}

const LEVELS = ['Info', 'Warning', 'Error'];

/** One line as istioctl prints it: `Error [IST0101] (VirtualService default/reviews) message`. */
export function formatMessageLine(m: AnalysisMessage): string {
  return `${m.level} [${m.code}] (${m.resource}) ${m.message}`;
}

function run(paths: string[], flags: AnalyzeFlags, ctx: CliContext): void {
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
  if (paths.length === 0 && clusterPaths.size === 0) {
    ctx.stderr('error: give at least one FILE or DIR to analyze\n');
    ctx.exitCode = 2;
    return;
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
  const problems: ReturnType<typeof readConfigFiles>['problems'] = [];
  const read = (p: readonly string[]): ReturnType<typeof readConfigFiles>['resources'] => {
    const out = readConfigFiles(p);
    problems.push(...out.problems);
    return out.resources;
  };
  const options = { istioNamespace: flags.istioNamespace, meshConfig, meshNetworks, analyzers: flags.analyzer };
  let messages;
  if (clusterPaths.size > 0) {
    const clusters: ClusterInput[] = [...clusterPaths].map(([id, p]) => ({ id, resources: read(p) }));
    if (paths.length > 0) clusters.push({ id: 'Kubernetes', resources: read(paths) });
    messages = analyzeClusters(clusters, options);
  } else {
    messages = analyze(read(paths), options);
  }
  for (const p of problems) ctx.stderr(`${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.message}\n`);
  const out = messages.map((m) => ({ code: m.code, name: m.name, level: m.level, resource: m.resource, message: m.message }));
  if (flags.output === 'json') {
    ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
  } else if (flags.output === 'yaml') {
    ctx.stdout(stringify(out));
  } else if (messages.length === 0) {
    ctx.stderr('\u2714 No validation issues found when analyzing the given files.\n');
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
      "Run Istio's analyzers over config files (like istioctl analyze). Exit status: 0 when no message reaches the " +
        `failure threshold, ${ANALYZE_ISSUES_FOUND} when some does (as istioctl), 1 when a file cannot be read or parsed, 2 on bad usage.`,
    )
    .argument('[paths...]', 'files or directories (walked recursively for *.yaml, *.yml, *.json)')
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
