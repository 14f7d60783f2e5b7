import type { ConfigResource } from '../../api/config-resource.ts';
import type { AccessLogging, CustomTag, Metrics, MetricName, TelemetrySpec, Tracing, WorkloadMode } from '../../api/istio/telemetry.ts';
import { defaultMeshConfig, type ExtensionProvider } from '../config/mesh-config.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { configOrder, labelsMatch } from './config-scope.ts';

/** What the Telemetry index reads of the MeshConfig. */
export interface TelemetryMesh {
  rootNamespace: string;
  extensionProviders?: readonly ExtensionProvider[];
  defaultProviders?: { metrics?: readonly string[]; tracing?: readonly string[]; accessLogging?: readonly string[] };
}

/** Tracing for one side (client: outbound and gateways; server: inbound), after merging. */
export interface TracingSpec {
  provider: ExtensionProvider | undefined;
  disabled: boolean;
  randomSamplingPercentage: number | undefined;
  customTags: Record<string, CustomTag> | undefined;
  useRequestIdForTraceSampling: boolean;
  enableIstioTags: boolean;
  disableContextPropagation: boolean;
}

export interface AccessLogSpec {
  provider: ExtensionProvider;
  /** CEL expression: log only when it evaluates to true. */
  filter: string | undefined;
}

export interface MetricOverride {
  /** Istio's metric enum name (REQUEST_COUNT, ...) or a custom metric name. */
  name: string;
  disabled: boolean;
  /** Sorted by name; `value` undefined means REMOVE. */
  tags: { name: string; value: string | undefined }[];
}

export interface ModeMetrics {
  /** Every metric off for this side (ALL_METRICS disabled): no stats filter at all. */
  disabled: boolean;
  overrides: MetricOverride[];
}

export interface ProviderMetrics {
  client: ModeMetrics;
  server: ModeMetrics;
  reportingInterval: string | undefined;
}

/** The standard Istio metrics ALL_METRICS expands to (sorted, as Istio flattens it). */
export const ISTIO_METRIC_NAMES: readonly MetricName[] = [
  'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES', 'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE',
  'TCP_CLOSED_CONNECTIONS', 'TCP_OPENED_CONNECTIONS', 'TCP_RECEIVED_BYTES', 'TCP_SENT_BYTES',
];

type Side = 'client' | 'server';

const providerNames = (refs: { name?: string }[] | undefined): string[] => (refs ?? []).map((p) => p?.name ?? '').filter((n) => n !== '');
const sidesOf = (mode: WorkloadMode | undefined): Side[] => (mode === 'CLIENT' ? ['client'] : mode === 'SERVER' ? ['server'] : ['client', 'server']);

/**
 * The Telemetry kind as istiod applies it (pilot's model.Telemetries): per proxy, the
 * namespace-wide Telemetry of the root namespace, then of the proxy's namespace, then those
 * that select the workload (selector, or targetRefs naming its Gateway), later levels overriding
 * earlier ones field by field; extension providers from the MeshConfig (`defaultProviders`
 * as the implicit parent).
 */
export class TelemetryIndex {
  private readonly byNamespace = new Map<string, ConfigResource<TelemetrySpec>[]>();
  private readonly mesh: TelemetryMesh;

  constructor(resources: readonly ConfigResource[], mesh: TelemetryMesh) {
    // a partial mesh (tests, tools) gets Istio's default providers, as a full MeshConfig has them
    const d = defaultMeshConfig();
    this.mesh = { ...mesh, extensionProviders: mesh.extensionProviders ?? d.extensionProviders, defaultProviders: mesh.defaultProviders ?? d.defaultProviders };
    const list = (resources.filter((r) => r.kind === 'Telemetry') as ConfigResource<TelemetrySpec>[]).sort(configOrder);
    for (const r of list) {
      const ns = r.metadata.namespace ?? 'default';
      const arr = this.byNamespace.get(ns) ?? [];
      arr.push(r);
      this.byNamespace.set(ns, arr);
    }
  }

  /** Any Telemetry at all (cheap check for callers that cache). */
  get empty(): boolean {
    return this.byNamespace.size === 0;
  }

  provider(name: string): ExtensionProvider | undefined {
    const n = name.toLowerCase();
    return this.mesh.extensionProviders?.find((p) => p.name.toLowerCase() === n);
  }

  /** The Telemetry resources that apply to a proxy, lowest precedence first. */
  applicable(proxy: Pick<ProxyInfo, 'namespace' | 'labels'>): ConfigResource<TelemetrySpec>[] {
    const out: ConfigResource<TelemetrySpec>[] = [];
    const root = this.mesh.rootNamespace;
    const wide = (ns: string): ConfigResource<TelemetrySpec> | undefined => (this.byNamespace.get(ns) ?? []).find((t) => !selects(t.spec));
    const rootWide = wide(root);
    if (rootWide) out.push(rootWide);
    if (proxy.namespace !== root) {
      const nsWide = wide(proxy.namespace);
      if (nsWide) out.push(nsWide);
    }
    for (const t of this.byNamespace.get(proxy.namespace) ?? []) {
      if (!selects(t.spec)) continue;
      if (attaches(t.spec, proxy)) out.push(t);
    }
    return out;
  }

  /** A stable key of what applies (generators cache by it). */
  key(proxy: Pick<ProxyInfo, 'namespace' | 'labels'>): string {
    return this.applicable(proxy).map((t) => `${t.metadata.namespace}/${t.metadata.name}@${t.metadata.resourceVersion ?? ''}`).join(',');
  }

  /**
   * Tracing for both sides, or undefined when neither a Telemetry nor `defaultProviders.tracing`
   * configures it (the MeshConfig's legacy settings then apply).
   */
  tracing(proxy: Pick<ProxyInfo, 'namespace' | 'labels'>): { client: TracingSpec; server: TracingSpec } | undefined {
    const list: Tracing[] = this.applicable(proxy).flatMap((t) => (t.spec?.tracing ?? []).filter((x): x is Tracing => !!x));
    const defaults = this.mesh.defaultProviders?.tracing ?? [];
    if (list.length === 0 && defaults.length === 0) return undefined;
    const fresh = (): TracingSpec => ({
      provider: defaults.length > 0 ? this.provider(defaults[0]!) : undefined,
      disabled: false, randomSamplingPercentage: undefined, customTags: undefined,
      useRequestIdForTraceSampling: true, enableIstioTags: true, disableContextPropagation: false,
    });
    const specs: Record<Side, TracingSpec> = { client: fresh(), server: fresh() };
    for (const t of list) {
      const targets = sidesOf(t.match?.mode).map((s) => specs[s]);
      const names = providerNames(t.providers);
      for (const s of targets) {
        if (names.length > 0) s.provider = this.provider(names[0]!);
        if (t.disableSpanReporting !== undefined && t.disableSpanReporting !== null) s.disabled = t.disableSpanReporting;
        if (t.customTags) s.customTags = t.customTags;
        if (typeof t.randomSamplingPercentage === 'number') s.randomSamplingPercentage = t.randomSamplingPercentage;
        if (typeof t.useRequestIdForTraceSampling === 'boolean') s.useRequestIdForTraceSampling = t.useRequestIdForTraceSampling;
        if (typeof t.enableIstioTags === 'boolean') s.enableIstioTags = t.enableIstioTags;
        if (typeof t.disableContextPropagation === 'boolean') s.disableContextPropagation = t.disableContextPropagation;
      }
    }
    for (const s of Object.values(specs)) if (!s.provider) s.disabled = true;
    return specs;
  }

  /**
   * Access logging for one side: undefined when no Telemetry nor `defaultProviders.accessLogging`
   * configures it (meshConfig.accessLogFile applies then); otherwise the providers in force
   * (an empty list: explicitly off).
   */
  accessLogging(proxy: Pick<ProxyInfo, 'namespace' | 'labels'>, mode: 'CLIENT' | 'SERVER'): AccessLogSpec[] | undefined {
    const levels: AccessLogging[][] = this.applicable(proxy).map((t) => (t.spec?.accessLogging ?? []).filter((x): x is AccessLogging => !!x)).filter((l) => l.length > 0);
    const defaults = [...(this.mesh.defaultProviders?.accessLogging ?? [])];
    if (levels.length === 0 && defaults.length === 0) return undefined;
    const matches = (l: AccessLogging): boolean => !l.match?.mode || l.match.mode === 'CLIENT_AND_SERVER' || l.match.mode === mode;
    const state = new Map<string, { disabled: boolean; filter: string | undefined }>();
    if (levels.length === 0) for (const d of defaults) state.set(d, { disabled: false, filter: undefined });
    // the providers in scope are those the most specific level names (or the defaults)
    let inScope: string[] = defaults;
    const filters = new Map<string, string | undefined>();
    for (const level of levels) {
      const names = new Set<string>();
      for (const l of level) {
        if (!matches(l)) continue;
        for (const n of providerNames(l.providers)) {
          names.add(n);
          filters.set(n, l.filter?.expression);
        }
      }
      if (names.size > 0) inScope = [...names];
    }
    let parent = defaults;
    for (const level of levels) {
      for (const l of level) {
        let names = providerNames(l.providers);
        if (names.length === 0) names = parent;
        parent = names;
        if (!matches(l)) continue;
        for (const n of names) {
          if (!inScope.includes(n)) continue;
          state.set(n, l.disabled === true ? { disabled: true, filter: undefined } : { disabled: false, filter: filters.get(n) });
        }
      }
    }
    const out: AccessLogSpec[] = [];
    for (const [name, s] of state) {
      if (s.disabled) continue;
      const provider = this.provider(name);
      if (provider) out.push({ provider, filter: s.filter });
    }
    return out.sort((a, b) => (a.provider.name < b.provider.name ? -1 : a.provider.name > b.provider.name ? 1 : 0));
  }

  /** Metrics per provider (only providers in scope appear; absent: no stats filter for it). */
  metrics(proxy: Pick<ProxyInfo, 'namespace' | 'labels'>): Map<string, ProviderMetrics> {
    const list: Metrics[] = this.applicable(proxy).flatMap((t) => (t.spec?.metrics ?? []).filter((m): m is Metrics => !!m));
    const defaults = [...(this.mesh.defaultProviders?.metrics ?? [])];
    type Acc = { disabled?: boolean; tags: Map<string, string | undefined> };
    const providers = new Map<string, Record<Side, Map<string, Acc>>>();
    const fresh = (): Record<Side, Map<string, Acc>> => ({ client: new Map(), server: new Map() });
    if (list.length === 0) for (const d of defaults) providers.set(d, fresh());
    let inScope = defaults;
    for (const m of list) {
      const names = providerNames(m.providers);
      if (names.length > 0) inScope = names;
    }
    let parent = defaults;
    const allOff = new Set<string>();
    const intervals = new Map<string, string>();
    for (const m of list) {
      let names = providerNames(m.providers);
      if (names.length === 0) names = parent;
      parent = names;
      for (const p of names) {
        if (!inScope.includes(p)) continue;
        if (m.reportingInterval) intervals.set(p, m.reportingInterval);
        let perSide = providers.get(p);
        if (!perSide) {
          perSide = fresh();
          providers.set(p, perSide);
        }
        for (const o of m.overrides ?? []) {
          if (!o) continue;
          const metric = o.match?.customMetric ? undefined : o.match?.metric ?? 'ALL_METRICS';
          if (metric === 'ALL_METRICS' && o.disabled === true) {
            for (const s of sidesOf(o.match?.mode)) allOff.add(`${p}/${s}`);
            continue;
          }
          const metricNames = o.match?.customMetric ? [o.match.customMetric] : metric === 'ALL_METRICS' ? ISTIO_METRIC_NAMES : [metric!];
          for (const s of sidesOf(o.match?.mode)) {
            allOff.delete(`${p}/${s}`);
            for (const name of metricNames) {
              const acc: Acc = perSide[s].get(name) ?? { tags: new Map() };
              if (typeof o.disabled === 'boolean') acc.disabled = o.disabled;
              for (const [tag, to] of Object.entries(o.tagOverrides ?? {})) acc.tags.set(tag, to?.operation === 'REMOVE' ? undefined : to?.value ?? '');
              perSide[s].set(name, acc);
            }
          }
        }
      }
    }
    const out = new Map<string, ProviderMetrics>();
    for (const [p, perSide] of providers) {
      const mode = (s: Side): ModeMetrics => {
        if (allOff.has(`${p}/${s}`)) return { disabled: true, overrides: [] };
        const overrides = [...perSide[s]].map(([name, acc]) => ({
          name,
          disabled: acc.disabled === true,
          tags: [...acc.tags].map(([n, v]) => ({ name: n, value: v })).sort((a, b) => (a.name < b.name ? -1 : 1)),
        }));
        return { disabled: false, overrides: overrides.sort((a, b) => (a.name < b.name ? -1 : 1)) };
      };
      out.set(p, { client: mode('client'), server: mode('server'), reportingInterval: intervals.get(p) });
    }
    return out;
  }
}

function selects(spec: TelemetrySpec | undefined): boolean {
  return Object.keys(spec?.selector?.matchLabels ?? {}).length > 0 || (spec?.targetRefs?.length ?? 0) > 0 || spec?.targetRef !== undefined;
}

/** Does a Telemetry with a selector or targetRefs attach to this workload? */
function attaches(spec: TelemetrySpec | undefined, proxy: Pick<ProxyInfo, 'labels'>): boolean {
  if (Object.keys(spec?.selector?.matchLabels ?? {}).length > 0) return labelsMatch(spec!.selector!.matchLabels, proxy.labels);
  const refs = [...(spec?.targetRefs ?? []), ...(spec?.targetRef ? [spec.targetRef] : [])];
  // A Gateway reference selects the gateway's deployment (Gateway API's gateway-name label);
  // Service references attach to waypoints, which reach this index with the service in hand.
  return refs.some((r) => r.kind === 'Gateway' && r.name !== undefined && proxy.labels['gateway.networking.k8s.io/gateway-name'] === r.name);
}
