import { inOwnGroup } from '../../api/kinds.ts';
import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../api/istio/authorization-policy.ts';
import type { GatewaySpec } from '../../api/istio/gateway.ts';
import type { MutualTlsMode, PeerAuthenticationSpec } from '../../api/istio/peer-authentication.ts';
import type { RequestAuthenticationSpec } from '../../api/istio/request-authentication.ts';
import type { SidecarSpec } from '../../api/istio/sidecar.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import type { PathNormalizationType } from '../config/mesh-config.ts';
import type { LocalityLoadBalancerSetting } from '../../api/istio/destination-rule.ts';
import type { Locality, RegistrySnapshot, Service } from '../registry/service.ts';
import { localityFromLabels } from '../registry/workload-labels.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { autoAllocatedVips } from '../ambient/service-entry-vips.ts';
import { wantsAutoAllocation, withAutoAllocatedAddresses } from './auto-allocation.ts';
import { DestinationRuleIndex, type DestinationRuleView } from './destination-rule-index.ts';
import { configOrder, exportedTo, labelsMatch } from './config-scope.ts';
import { hostMatches, hostSpecificity, resolveShortName } from './host-match.ts';
import { SecurityPolicyIndex, type PolicyTarget } from './security-policy-index.ts';
import { SidecarIndex, egressAdmits } from './sidecar-scope.ts';
import { TelemetryIndex } from './telemetry-index.ts';
import type { ExtensionProvider, ProxyTracing } from '../config/mesh-config.ts';
import { MESH_GATEWAY, VirtualServiceIndex, type VirtualServiceView } from './virtual-service-index.ts';

/** The MeshConfig fields translation reads (Istio's names; MeshConfig satisfies this). */
export interface PushMeshConfig {
  rootNamespace: string;
  trustDomain: string;
  /** Default `cluster.local`. */
  domainSuffix?: string;
  outboundTrafficPolicy?: { mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  /** Default true: mTLS to workloads that have a sidecar without a DestinationRule saying so. */
  enableAutoMtls?: boolean;
  /** Default cluster connect timeout (`10s`). */
  connectTimeout?: string;
  /** istiod's ENABLE_TLS_ON_SIDECAR_INGRESS feature (discovery's environment): Sidecar ingress `tls` is applied. */
  enableTlsOnSidecarIngress?: boolean;
  /** MeshConfig.h2UpgradePolicy (outbound clusters of HTTP ports). */
  h2UpgradePolicy?: string;
  /** Other trust domains whose identities count as the mesh's (authorization principals). */
  trustDomainAliases?: readonly string[];
  /** meshConfig access log: HCMs get an envoy.access_loggers.file entry when a file is set. */
  accessLogFile?: string;
  accessLogEncoding?: 'TEXT' | 'JSON';
  accessLogFormat?: string;
  /** meshConfig.pathNormalization: what every HCM generates (normalize_path, merge_slashes, escaped slashes). */
  pathNormalization?: { normalization?: PathNormalizationType };
  /** Telemetry and tracing: extension providers, default providers, legacy tracing settings. */
  enableTracing?: boolean;
  extensionProviders?: readonly ExtensionProvider[];
  defaultProviders?: { metrics?: readonly string[]; tracing?: readonly string[]; accessLogging?: readonly string[] };
  defaultConfig?: { tracing?: ProxyTracing };
  /** Locality load balancing for every cluster a DestinationRule does not set it for (Istio's default: enabled). */
  localityLbSetting?: LocalityLoadBalancerSetting;
}

export interface PushContextInput {
  config: ConfigStoreReader;
  registry: RegistrySnapshot;
  mesh: PushMeshConfig;
  /** Version string sent to proxies; defaults to the config revision. */
  version?: string;
}

export interface GatewayView {
  resource: ConfigResource<GatewaySpec>;
  /** `ns/name`, as VirtualServices refer to it. */
  key: string;
  spec: GatewaySpec;
}

/** A config change a proxy may depend on. */
export interface ConfigRef {
  kind: string;
  namespace?: string;
  name: string;
}

export interface EffectiveMtls {
  mode: Exclude<MutualTlsMode, 'UNSET'>;
  /** Port-level overrides from the workload-level policy. */
  ports: ReadonlyMap<number, Exclude<MutualTlsMode, 'UNSET'>>;
}

/**
 * Everything one push needs, computed once from config, registry and mesh settings and then
 * read-only (like Istio's PushContext). Generators ask it questions about a proxy.
 */
export class PushContext {
  readonly version: string;
  readonly mesh: Readonly<Required<Pick<PushMeshConfig, 'rootNamespace' | 'trustDomain' | 'domainSuffix'>>> & PushMeshConfig;
  readonly registry: RegistrySnapshot;
  readonly config: ConfigStoreReader;
  private readonly virtualServices: VirtualServiceIndex;
  private readonly destinationRules: DestinationRuleIndex;
  private readonly sidecars: SidecarIndex;
  private readonly gateways: GatewayView[];
  private readonly peerAuthentications: SecurityPolicyIndex<PeerAuthenticationSpec>;
  private readonly authorizationPolicies: SecurityPolicyIndex<AuthorizationPolicySpec>;
  private readonly requestAuthentications: SecurityPolicyIndex<RequestAuthenticationSpec>;
  /** Telemetry resources by scope (tracing, access logging, metrics). */
  readonly telemetry: TelemetryIndex;
  private readonly visibleCache = new Map<string, readonly Service[]>();
  private readonly memo = new Map<string, unknown>();
  /** Does some config make generation depend on a proxy's labels (sourceLabels, DR workloadSelector)? */
  private readonly labelSensitive: boolean;
  /** Does some locality setting (failoverPriority) make EDS depend on a proxy's labels? */
  readonly localityLabelSensitive: boolean;

  constructor(input: PushContextInput) {
    this.config = input.config;
    this.registry = input.registry;
    this.mesh = { ...input.mesh, domainSuffix: input.mesh.domainSuffix ?? 'cluster.local' };
    this.version = input.version ?? String(input.config.revision());
    // kinds by name, each from its own API group only (a foreign `Gateway` is not an Istio one)
    const all = input.config.all().filter(inOwnGroup);
    const { rootNamespace, domainSuffix } = this.mesh;
    this.virtualServices = new VirtualServiceIndex(all, domainSuffix);
    this.destinationRules = new DestinationRuleIndex(all, domainSuffix, rootNamespace);
    this.sidecars = new SidecarIndex(all, rootNamespace);
    this.gateways = (all.filter((r) => r.kind === 'Gateway' && r.group === 'networking.istio.io') as ConfigResource<GatewaySpec>[]).sort(configOrder).map((r) => ({
      resource: r,
      key: `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`,
      spec: r.spec ?? {},
    }));
    this.peerAuthentications = new SecurityPolicyIndex(all, 'PeerAuthentication', rootNamespace);
    this.authorizationPolicies = new SecurityPolicyIndex(all, 'AuthorizationPolicy', rootNamespace);
    this.requestAuthentications = new SecurityPolicyIndex(all, 'RequestAuthentication', rootNamespace);
    this.telemetry = new TelemetryIndex(all, this.mesh);
    this.localityLabelSensitive = (this.mesh.localityLbSetting?.failoverPriority?.length ?? 0) > 0
      || all.some((r) => r.kind === 'DestinationRule' && JSON.stringify(r.spec ?? {}).includes('"failoverPriority"'));
    this.labelSensitive = all.some((r) => {
      if (r.kind === 'DestinationRule') return (r.spec as { workloadSelector?: unknown }).workloadSelector !== undefined;
      if (r.kind !== 'VirtualService') return false;
      const spec = r.spec as { http?: { match?: { sourceLabels?: object }[] }[]; tcp?: { match?: { sourceLabels?: object }[] }[]; tls?: { match?: { sourceLabels?: object }[] }[] };
      return [...(spec.http ?? []), ...(spec.tcp ?? []), ...(spec.tls ?? [])].some((route) => (route.match ?? []).some((m) => m.sourceLabels !== undefined));
    });
  }

  /**
   * Build once per push and share: generators key what they build by what it depends on (see
   * scopeKey), so proxies in the same scope get the very same objects — and the encoder the
   * very same bytes.
   */
  cached<T>(key: string, build: () => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const value = build();
    this.memo.set(key, value);
    return value;
  }

  /**
   * What outbound generation depends on for a proxy: type, namespace, DNS domain, Sidecar scope,
   * and its labels only when some config matches on labels.
   */
  scopeKey(proxy: ProxyInfo): string {
    const sidecar = proxy.type === 'sidecar' ? this.sidecarFor(proxy) : undefined;
    const sidecarKey = sidecar ? `${sidecar.metadata.namespace}/${sidecar.metadata.name}` : '';
    const labels = this.labelSensitive || proxy.type === 'router' ? labelsKey(proxy.labels) : '';
    const auto = wantsAutoAllocation(proxy);
    return `${proxy.type}|${proxy.generator ?? ''}|${proxy.namespace}|${proxy.dnsDomain}|${sidecarKey}|${labels}${auto ? `|auto-${auto}` : ''}`;
  }

  /**
   * The proxy's locality, as istiod sets model.Proxy.Locality: what its Envoy node says, else the
   * locality of the workload at its address (a pod's labels or node), else its own labels.
   */
  proxyLocality(proxy: ProxyInfo): Locality {
    if (proxy.locality) return proxy.locality;
    const byAddress = this.cached('locality-by-address', () => {
      const m = new Map<string, Locality>();
      for (const w of this.registry.workloads) if (w.locality && !m.has(w.address)) m.set(w.address, w.locality);
      return m;
    });
    for (const ip of proxy.ipAddresses) {
      const l = byAddress.get(ip);
      if (l) return l;
    }
    return localityFromLabels(proxy.labels) ?? {};
  }

  /** The Sidecar resource scoping this proxy, if any. */
  sidecarFor(proxy: ProxyInfo): ConfigResource<SidecarSpec> | undefined {
    return this.sidecars.forWorkload(proxy.namespace, proxy.labels);
  }

  /**
   * Services the proxy may reach: exported to its namespace and admitted by its Sidecar's egress
   * hosts (when a Sidecar applies). Sorted by hostname. Cached per namespace+Sidecar.
   */
  servicesVisibleTo(proxy: ProxyInfo): readonly Service[] {
    const sidecar = proxy.type === 'sidecar' ? this.sidecarFor(proxy) : undefined;
    const auto = wantsAutoAllocation(proxy);
    const key = `${proxy.namespace}|${sidecar ? `${sidecar.metadata.namespace}/${sidecar.metadata.name}` : ''}|${auto}`;
    const cached = this.visibleCache.get(key);
    if (cached) return cached;
    const egress = sidecar?.spec.egress;
    const visible = this.registry.services
      .filter((s) => serviceExportedTo(s, proxy.namespace))
      .filter((s) => !egress || egress.length === 0 || egressAdmits(egress, proxy.namespace, s.hostname, s.namespace))
      .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.namespace < b.namespace ? -1 : 1));
    const scoped = oneServicePerHost(visible, proxy.namespace);
    const out = auto ? withAutoAllocatedAddresses(scoped, this.autoAllocatedVips(), auto) : scoped;
    this.visibleCache.set(key, out);
    return out;
  }

  /** Istio's auto-allocated addresses (240.240.0.0/16, 2001:2::/48) of ServiceEntry hosts without addresses, by `namespace/hostname`. */
  autoAllocatedVips(): ReadonlyMap<string, [string, string]> {
    return this.cached('auto-allocated-vips', () => autoAllocatedVips(this.registry.services));
  }

  /** The service a hostname names for this proxy (its own namespace's declaration first). */
  serviceFor(proxy: ProxyInfo, hostname: string): Service | undefined {
    const candidates = this.registry.servicesByHost(hostname).filter((s) => serviceExportedTo(s, proxy.namespace));
    return candidates.find((s) => s.namespace === proxy.namespace) ?? candidates[0];
  }

  /** Resolve a destination host written in a resource of namespace `ns` to an FQDN. */
  resolveHost(host: string, ns: string): string {
    return resolveShortName(host, ns, this.mesh.domainSuffix);
  }

  /**
   * Root VirtualServices bound to `gateway` (`mesh` for sidecars, `ns/name` for gateways) that
   * are visible to the proxy's namespace, in Istio's order (oldest first). For sidecars with a
   * Sidecar egress scope, only those with a host the scope admits.
   */
  virtualServicesFor(proxy: ProxyInfo, gateway: string = MESH_GATEWAY): readonly VirtualServiceView[] {
    const list = this.virtualServices.forGateway(gateway, proxy.namespace);
    if (gateway !== MESH_GATEWAY) return list;
    const egress = this.sidecarFor(proxy)?.spec.egress;
    if (!egress || egress.length === 0) return list;
    return list.filter((vs) => vs.hosts.some((h) => egressAdmits(egress, proxy.namespace, h, vs.namespace)));
  }

  /**
   * The VirtualService that routes `hostname` for this proxy on `gateway`: one naming the host
   * exactly, else the most specific wildcard; the oldest on ties. Indexed once per scope.
   */
  virtualServiceForHost(proxy: ProxyInfo, hostname: string, gateway: string = MESH_GATEWAY): VirtualServiceView | undefined {
    const index = this.cached(`vs-host-index|${gateway}|${this.scopeKey(proxy)}`, () => {
      const exact = new Map<string, VirtualServiceView>();
      const wildcards: { pattern: string; vs: VirtualServiceView; order: number }[] = [];
      this.virtualServicesFor(proxy, gateway).forEach((vs, order) => {
        for (const h of vs.hosts) {
          if (h.includes('*')) wildcards.push({ pattern: h, vs, order });
          else if (!exact.has(h)) exact.set(h, vs);
        }
      });
      wildcards.sort((a, b) => hostSpecificity(b.pattern) - hostSpecificity(a.pattern) || a.order - b.order);
      return { exact, wildcards };
    });
    return index.exact.get(hostname) ?? index.wildcards.find((w) => hostMatches(w.pattern, hostname))?.vs;
  }

  /** The DestinationRule for a service as seen from the proxy (Istio's namespace precedence). */
  destinationRuleFor(proxy: ProxyInfo, service: Pick<Service, 'hostname' | 'namespace'>): DestinationRuleView | undefined {
    return this.destinationRules.lookup(service.hostname, service.namespace, proxy.namespace, proxy.labels);
  }

  /** Gateways whose selector matches the proxy's labels (router proxies); no selector selects every gateway. */
  gatewaysFor(proxy: ProxyInfo): readonly GatewayView[] {
    return this.gateways.filter((g) => labelsMatch(g.spec.selector, proxy.labels));
  }

  /** Effective inbound mTLS mode: workload policy over namespace policy over mesh policy; PERMISSIVE by default. */
  mtlsFor(proxy: ProxyInfo): EffectiveMtls {
    const scoped = this.peerAuthentications.scoped(proxy.namespace, proxy.labels);
    let mode: Exclude<MutualTlsMode, 'UNSET'> = 'PERMISSIVE';
    for (const policy of [scoped.mesh, scoped.namespace, scoped.workload]) {
      const m = policy?.spec?.mtls?.mode;
      if (m && m !== 'UNSET') mode = m;
    }
    const ports = new Map<number, Exclude<MutualTlsMode, 'UNSET'>>();
    for (const [port, setting] of Object.entries(scoped.workload?.spec?.portLevelMtls ?? {})) {
      const m = setting?.mode;
      ports.set(Number(port), m && m !== 'UNSET' ? m : mode);
    }
    return { mode, ports };
  }

  /**
   * A proxy's AuthorizationPolicies: selector/namespace/mesh-wide ones for sidecars and gateways,
   * plus, for a gateway deployed from a Gateway API Gateway, those whose targetRefs name that
   * Gateway. Waypoints use targetRefs only (`authorizationPoliciesForTargets`), as in istiod.
   */
  authorizationPoliciesFor(proxy: ProxyInfo): ConfigResource<AuthorizationPolicySpec>[] {
    const own = this.authorizationPolicies.forWorkload(proxy.namespace, proxy.labels);
    const gw = gatewayTarget(proxy);
    return gw ? [...own, ...this.authorizationPolicies.forTargets([gw])] : own;
  }

  requestAuthenticationsFor(proxy: ProxyInfo): ConfigResource<RequestAuthenticationSpec>[] {
    const own = this.requestAuthentications.forWorkload(proxy.namespace, proxy.labels);
    const gw = gatewayTarget(proxy);
    return gw ? [...own, ...this.requestAuthentications.forTargets([gw])] : own;
  }

  authorizationPoliciesForTargets(targets: readonly PolicyTarget[]): ConfigResource<AuthorizationPolicySpec>[] {
    return this.authorizationPolicies.forTargets(targets);
  }

  requestAuthenticationsForTargets(targets: readonly PolicyTarget[]): ConfigResource<RequestAuthenticationSpec>[] {
    return this.requestAuthentications.forTargets(targets);
  }

  /** SPIFFE identity of a service account. */
  spiffeId(namespace: string, serviceAccount: string): string {
    return `spiffe://${this.mesh.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  }

  /**
   * Could a change to this config resource alter what the proxy is sent? Used to scope pushes:
   * false means the proxy can be skipped. Conservative (true) when unsure.
   */
  dependsOn(proxy: ProxyInfo, ref: ConfigRef, resource?: ConfigResource): boolean {
    // ztunnel serves every namespace of its node; its resources are diffed per resource anyway.
    if (proxy.type === 'ztunnel') return true;
    const ns = ref.namespace ?? 'default';
    const root = this.mesh.rootNamespace;
    switch (ref.kind) {
      case 'PeerAuthentication':
      case 'AuthorizationPolicy':
      case 'RequestAuthentication':
      case 'Sidecar':
      case 'Telemetry':
        return ns === proxy.namespace || ns === root;
      case 'Gateway':
        return proxy.type === 'router';
      case 'VirtualService':
      case 'DestinationRule': {
        if (!resource) return true;
        const spec = resource.spec as { hosts?: string[]; host?: string; exportTo?: string[] };
        if (!exportedTo(spec.exportTo, ns, proxy.namespace) && ns !== proxy.namespace) return false;
        const hosts = (spec.hosts ?? (spec.host ? [spec.host] : [])).map((h) => this.resolveHost(h, ns));
        if (hosts.length === 0) return true; // delegate VirtualService: any root may use it
        if (proxy.type === 'router') return true;
        const visible = this.servicesVisibleTo(proxy);
        return hosts.some((h) => visible.some((s) => hostMatches(h, s.hostname) || hostMatches(s.hostname, h)));
      }
      case 'ServiceEntry':
      case 'Service': {
        if (!resource) return true;
        const exportTo = (resource.spec as { exportTo?: string[] }).exportTo;
        return exportedTo(exportTo, ns, proxy.namespace);
      }
      default:
        return true;
    }
  }
}

/**
 * One service per hostname, as Istio's sidecar scope keeps them: the proxy's own namespace's
 * declaration wins (a ServiceEntry next to the workload shadows a Kubernetes Service of the same
 * name elsewhere), else the first. Order is kept.
 */
function oneServicePerHost(services: readonly Service[], namespace: string): readonly Service[] {
  const chosen = new Map<string, Service>();
  for (const s of services) {
    const have = chosen.get(s.hostname);
    if (!have || (have.namespace !== namespace && s.namespace === namespace)) chosen.set(s.hostname, s);
  }
  if (chosen.size === services.length) return services;
  return services.filter((s) => chosen.get(s.hostname) === s);
}

/** Stable text of a label set. */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function serviceExportedTo(s: Service, viewer: string): boolean {
  if (s.exportTo.length === 0) return true;
  for (const e of s.exportTo) {
    if (e === '*' || e === viewer || (e === '.' && s.namespace === viewer)) return true;
  }
  return false;
}

/** The Gateway API Gateway a gateway proxy was deployed for (its pods carry the gateway-name label). */
function gatewayTarget(proxy: ProxyInfo): PolicyTarget | undefined {
  const name = proxy.labels['gateway.networking.k8s.io/gateway-name'];
  if (proxy.type !== 'router' || !name) return undefined;
  return { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: proxy.namespace, name };
}
