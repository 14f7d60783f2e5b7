import type { ConfigResource } from '../../api/config-resource.ts';
import { AnalysisContext, defaultMeshConfig } from './analysis-context.ts';
import type { AnalysisMessage } from './analysis-message.ts';
import type { Analyzer } from './analyzer.ts';
import { allAnalyzers } from './all-analyzers.ts';
import { defaultResources } from './default-resources.ts';
import { meshDataFromResources } from './mesh-config-file.ts';
import type { Obj } from './untyped-fields.ts';

export interface AnalyzeOptions {
  /** Istio's system namespace; default `istio-system`. */
  istioNamespace?: string;
  /** MeshConfig (istioctl --meshConfigFile); otherwise the `istio` ConfigMap in the input, else defaults. */
  meshConfig?: Obj;
  /** MeshNetworks (istioctl --meshNetworksFile). */
  meshNetworks?: Obj;
  /** Run only these analyzers (Istio names); default: all. */
  analyzers?: readonly string[];
  /** Add Istio's stand-in ingress gateway (default true, as istioctl does for files). */
  defaultResources?: boolean;
  /** Multi-cluster analysis: the cluster each input resource belongs to (see analyzeClusters). */
  clusterOf?: ReadonlyMap<ConfigResource, string>;
}

/** One cluster's resources, for multi-cluster analysis. */
export interface ClusterInput {
  id: string;
  resources: readonly ConfigResource[];
}

const LEVEL_ORDER = { Error: 0, Warning: 1, Info: 2 } as const;

function synthetic(kind: string, name: string, namespace: string, spec: Obj): ConfigResource {
  return { apiVersion: 'mesh.istio.io/v1alpha1', kind, group: 'mesh.istio.io', version: 'v1alpha1', metadata: { name, namespace }, spec, raw: { kind, metadata: { name, namespace }, spec } };
}

/** Istio's Go type names for analyzers whose registered name differs (accepted by --analyzer). */
const ALIASES: Readonly<Record<string, string>> = {
  'deployment.ServiceAssociationAnalyzer': 'deployment.MultiServiceAnalyzer',
  'deployment.ApplicationUIDAnalyzer': 'applicationUID.Analyzer',
  'deprecation.FieldAnalyzer': 'deprecation.DeprecationAnalyzer',
  'destinationrule.PodNotSelectedAnalyzer': 'destinationrule.SubsetSelectPodAnalyzer',
  'multicluster.MeshNetworksAnalyzer': 'meshnetworks.MeshNetworksAnalyzer',
  'multicluster.ServiceAnalyzer': 'services.MultiClusterServiceAnalyzer',
  'authz.AuthorizationPoliciesAnalyzer': 'auth.AuthorizationPoliciesAnalyzer',
  'serviceentry.ProtocolAddressesAnalyzer': 'serviceentry.Analyzer',
  'telemetry.ProdiverAnalyzer': 'telemetry.ProviderAnalyzer',
};

/** Analyzers selected by name (or Istio Go type name); unknown names are returned so the caller can report them. */
export function selectAnalyzers(names: readonly string[] | undefined): { analyzers: Analyzer[]; unknown: string[] } {
  const all = allAnalyzers();
  if (!names || names.length === 0) return { analyzers: all.filter((a) => !a.optional), unknown: [] };
  const wanted = names.map((n) => ALIASES[n] ?? n);
  const analyzers = all.filter((a) => wanted.includes(a.name));
  const unknown = names.filter((n, i) => !all.some((a) => a.name === wanted[i]));
  return { analyzers, unknown };
}

/**
 * Run Istio's analyzers over a set of resources (as `istioctl analyze` does over files) and return
 * their messages, most severe first. Never throws on user input.
 */
export function analyze(resources: readonly ConfigResource[], options: AnalyzeOptions = {}): AnalysisMessage[] {
  const istioNamespace = options.istioNamespace ?? 'istio-system';
  const meshConfig = options.meshConfig ?? meshDataFromResources(resources, istioNamespace, 'mesh') ?? {};
  const meshNetworks = options.meshNetworks ?? meshDataFromResources(resources, istioNamespace, 'meshNetworks');
  const merged = { ...defaultMeshConfig(), ...meshConfig };
  const all: ConfigResource[] = [...resources];
  if (options.defaultResources !== false) all.push(...defaultResources(istioNamespace, merged));
  all.push(synthetic('MeshConfig', 'meshconfig', istioNamespace, merged));
  if (meshNetworks) all.push(synthetic('MeshNetworks', 'meshnetworks', istioNamespace, meshNetworks));
  const ctx = new AnalysisContext(all, { istioNamespace, meshConfig, meshNetworks, clusterOf: options.clusterOf });
  for (const a of selectAnalyzers(options.analyzers).analyzers) {
    ctx.withAnalyzer(a.name, () => {
      try {
        a.analyze(ctx);
      } catch (err) {
        // An analyzer bug must not hide the other analyzers' findings: report it as Istio does.
        const self = synthetic('MeshConfig', 'meshconfig', istioNamespace, {});
        ctx.report(self, 'InternalError', `${a.name}: ${(err as Error).message}`);
      }
    });
  }
  // Like Istio, report a message once however many places produced it.
  const seen = new Set<string>();
  const unique = ctx.messages.filter((m) => {
    const key = `${m.code}\u0000${m.resource}\u0000${m.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique
    .map((m, i) => ({ m, i }))
    .sort((x, y) => LEVEL_ORDER[x.m.level] - LEVEL_ORDER[y.m.level] || x.m.resource.localeCompare(y.m.resource) || x.m.code.localeCompare(y.m.code) || x.i - y.i)
    .map(({ m }) => m);
}

/**
 * Analyze several clusters together (istioctl's multi-cluster mode): every analyzer sees the
 * union of the clusters' resources, and cross-cluster analyzers compare them per cluster.
 */
export function analyzeClusters(clusters: readonly ClusterInput[], options: Omit<AnalyzeOptions, 'clusterOf'> = {}): AnalysisMessage[] {
  const clusterOf = new Map<ConfigResource, string>();
  for (const c of clusters) for (const r of c.resources) clusterOf.set(r, c.id);
  return analyze(clusters.flatMap((c) => c.resources), { ...options, clusterOf });
}
