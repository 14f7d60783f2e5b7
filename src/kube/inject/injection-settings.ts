/**
 * What the injector needs to know besides the pod: the proxy image, where discovery is, the
 * revision, mesh identity. `mizzen install` writes the same values into the
 * `istio-sidecar-injector` ConfigMap (key `values`, Istio's Helm values shape), so the webhook
 * and `mizzen kube-inject` agree.
 */
export interface InjectionSettings {
  /** Image of the init and istio-proxy containers. */
  image: string;
  /** Revision this injector serves (`default` for none). */
  revision: string;
  /** Namespace of discovery (istio-system). */
  systemNamespace: string;
  /** `istiod.istio-system.svc:15012` (or istiod-REV...). */
  discoveryAddress: string;
  trustDomain: string;
  clusterId: string;
  meshId: string;
  /** Run the proxy as a native sidecar (init container with restartPolicy Always). */
  nativeSidecar: boolean;
  /** Rewrite app HTTP/TCP probes to the agent's 15020 (Istio's default). */
  rewriteAppProbers: boolean;
  /** `meshConfig.defaultConfig.holdApplicationUntilProxyStarts`. */
  holdApplicationUntilProxyStarts: boolean;
  proxyResources: { cpu: string; memory: string; cpuLimit: string; memoryLimit: string };
}

export const DEFAULT_IMAGE = 'mizzen:0.1.0';

export function defaultInjectionSettings(overrides: Partial<InjectionSettings> = {}): InjectionSettings {
  const revision = overrides.revision ?? 'default';
  const systemNamespace = overrides.systemNamespace ?? 'istio-system';
  const istiod = revision === 'default' ? 'istiod' : `istiod-${revision}`;
  return {
    image: DEFAULT_IMAGE,
    revision,
    systemNamespace,
    discoveryAddress: `${istiod}.${systemNamespace}.svc:15012`,
    trustDomain: 'cluster.local',
    clusterId: 'Kubernetes',
    meshId: 'cluster.local',
    nativeSidecar: false,
    rewriteAppProbers: true,
    holdApplicationUntilProxyStarts: false,
    proxyResources: { cpu: '100m', memory: '128Mi', cpuLimit: '2000m', memoryLimit: '1024Mi' },
    ...overrides,
  };
}

/**
 * Settings from the `istio-sidecar-injector` ConfigMap's `values` (JSON): global.hub/tag or
 * global.proxy.image, global.proxy.resources, revision, global.meshID, global.multiCluster.clusterName.
 */
export function settingsFromValues(valuesJson: string | undefined, base: InjectionSettings): { settings: InjectionSettings; error?: string } {
  if (!valuesJson) return { settings: base };
  let v: Record<string, any>;
  try {
    v = JSON.parse(valuesJson) as Record<string, any>;
  } catch (err) {
    return { settings: base, error: `values is not JSON: ${(err as Error).message}` };
  }
  const g = (v.global ?? {}) as Record<string, any>;
  const s = { ...base, proxyResources: { ...base.proxyResources } };
  const image = g.proxy?.image;
  if (typeof image === 'string' && image !== '') s.image = image.includes('/') || image.includes(':') || !g.hub ? image : `${g.hub}/${image}:${g.tag ?? 'latest'}`;
  if (typeof g.meshID === 'string' && g.meshID) s.meshId = g.meshID;
  if (typeof g.multiCluster?.clusterName === 'string' && g.multiCluster.clusterName) s.clusterId = g.multiCluster.clusterName;
  if (typeof v.revision === 'string' && v.revision) s.revision = v.revision;
  if (typeof g.nativeSidecars === 'boolean') s.nativeSidecar = g.nativeSidecars;
  const r = g.proxy?.resources;
  if (r?.requests?.cpu) s.proxyResources.cpu = String(r.requests.cpu);
  if (r?.requests?.memory) s.proxyResources.memory = String(r.requests.memory);
  if (r?.limits?.cpu) s.proxyResources.cpuLimit = String(r.limits.cpu);
  if (r?.limits?.memory) s.proxyResources.memoryLimit = String(r.limits.memory);
  return { settings: s };
}
