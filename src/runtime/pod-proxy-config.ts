import { parse } from 'yaml';
import type { ConfigResource } from '../api/config-resource.ts';

type ProxyConfig = Record<string, unknown>;

function parseObject(text: string | undefined): ProxyConfig {
  if (!text) return {};
  try {
    const v = parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as ProxyConfig) : {};
  } catch {
    return {};
  }
}

/**
 * A pod's ProxyConfig as Istio's injector computes it: MeshConfig `defaultConfig` (the `mesh` key
 * of ConfigMap `istio` in the root namespace), overridden field by field by the pod's
 * `proxy.istio.io/config` annotation (YAML or JSON). The sidecar gets it as env PROXY_CONFIG, as
 * istio-proxy does; like Istio, a running pod keeps the config it was created with.
 */
export function podProxyConfig(configMaps: readonly ConfigResource[], annotations: Readonly<Record<string, string>>, rootNamespace = 'istio-system'): ProxyConfig {
  const cm = configMaps.find((c) => c.metadata.name === 'istio' && (c.metadata.namespace ?? 'default') === rootNamespace);
  const mesh = parseObject((cm?.raw as { data?: Record<string, string> } | undefined)?.data?.mesh);
  const defaults = typeof mesh.defaultConfig === 'object' && mesh.defaultConfig !== null ? (mesh.defaultConfig as ProxyConfig) : {};
  return { ...defaults, ...parseObject(annotations['proxy.istio.io/config']) };
}
