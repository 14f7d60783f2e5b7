import { parse } from 'yaml';
import type { ConfigResource } from '../api/config-resource.ts';

/** Istio's pod annotation that turns metrics merging on or off for one pod. */
export const MERGE_METRICS_ANNOTATION = 'prometheus.istio.io/merge-metrics';

export interface PrometheusMerge {
  /** The pod's annotations after injection: scrape the agent's merged endpoint. */
  annotations: Record<string, string>;
  /** istio-proxy's ISTIO_PROMETHEUS_ANNOTATIONS (the app's own scrape settings, JSON), when it had any. */
  env?: string;
}

/** MeshConfig `enablePrometheusMerge` (default true) from ConfigMap `istio` in the root namespace. */
export function meshPrometheusMerge(configMaps: readonly ConfigResource[], rootNamespace = 'istio-system'): boolean {
  const cm = configMaps.find((c) => c.metadata.name === 'istio' && (c.metadata.namespace ?? 'default') === rootNamespace);
  const text = (cm?.raw as { data?: Record<string, string> } | undefined)?.data?.mesh;
  if (!text) return true;
  try {
    const mesh = parse(text) as { enablePrometheusMerge?: unknown } | null;
    return mesh?.enablePrometheusMerge !== false;
  } catch {
    return true;
  }
}

/**
 * What Istio's injector does for metrics merging (`applyPrometheusMerge`): unless the pod says
 * `prometheus.io/scrape: "false"` or merging is off (MeshConfig `enablePrometheusMerge`, pod
 * annotation `prometheus.istio.io/merge-metrics`), the pod is annotated to be scraped on the
 * agent's status port (`prometheus.io/scrape: "true"`, `prometheus.io/port: "15020"`,
 * `prometheus.io/path: /stats/prometheus`), and the app's own settings move to istio-proxy's
 * ISTIO_PROMETHEUS_ANNOTATIONS, where the agent finds what to merge. A pod already pointing at
 * the status port (re-injected) is left as it is.
 */
export function applyPrometheusMerge(annotations: Readonly<Record<string, string>>, meshEnabled: boolean, statusPort = 15020): PrometheusMerge {
  const out = { ...annotations };
  if (out['prometheus.io/scrape'] === 'false') return { annotations: out };
  const podSays = out[MERGE_METRICS_ANNOTATION];
  const enabled = podSays !== undefined ? podSays.toLowerCase() === 'true' : meshEnabled;
  if (!enabled) return { annotations: out };
  const port = String(statusPort);
  if (out['prometheus.io/port'] === port) return { annotations: out };
  const app: Record<string, string> = {};
  for (const k of ['scrape', 'path', 'port'] as const) {
    const v = out[`prometheus.io/${k}`];
    if (v !== undefined && v !== '') app[k] = v;
  }
  out['prometheus.io/port'] = port;
  out['prometheus.io/path'] = '/stats/prometheus';
  out['prometheus.io/scrape'] = 'true';
  return Object.keys(app).length > 0 ? { annotations: out, env: JSON.stringify(app) } : { annotations: out };
}
