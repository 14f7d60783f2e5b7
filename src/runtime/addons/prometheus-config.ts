import { stringify } from 'yaml';

export interface PrometheusConfigOptions {
  /** Where Prometheus itself listens (HOST:PORT), scraped by the `prometheus` job. */
  selfAddress: string;
  /** The file_sd file with the mesh's pods (kubernetes-sd-targets.ts). */
  podTargetsFile: string;
  /** Scrape and rule evaluation interval, in seconds. */
  intervalSeconds: number;
}

/**
 * prometheus.yml for the mesh: the scrape jobs of Istio's Prometheus addon (samples/addons,
 * the community chart's defaults that Istio ships) that matter for a mesh: Prometheus itself, and
 * `kubernetes-pods`, which keeps pods annotated `prometheus.io/scrape: "true"` and takes their
 * scheme, path and port from the other prometheus.io/* annotations, copies pod labels, and sets
 * `namespace`, `pod` and `node`. Istio's injector points those annotations at the agent's merged
 * endpoint (15020), and istiod's pod annotates port 15014, so one job scrapes the control plane
 * and every proxy. The pods come from a file_sd file that carries the labels Kubernetes SD would
 * set, so the relabelling is Istio's, unchanged.
 */
export function renderPrometheusConfig(o: PrometheusConfigOptions): string {
  const interval = `${o.intervalSeconds}s`;
  const config = {
    global: { scrape_interval: interval, scrape_timeout: `${Math.max(1, o.intervalSeconds - 1)}s`, evaluation_interval: interval },
    scrape_configs: [
      { job_name: 'prometheus', static_configs: [{ targets: [o.selfAddress] }] },
      {
        job_name: 'kubernetes-pods',
        honor_labels: true,
        file_sd_configs: [{ files: [o.podTargetsFile], refresh_interval: '30s' }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' },
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape_slow'], action: 'drop', regex: 'true' },
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scheme'], action: 'replace', regex: '(https?)', target_label: '__scheme__' },
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'], action: 'replace', regex: '(.+)', target_label: '__metrics_path__' },
          {
            source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_port', '__meta_kubernetes_pod_ip'],
            action: 'replace',
            regex: '(\\d+);((([0-9]+?)(\\.|$)){4})',
            replacement: '$2:$1',
            target_label: '__address__',
          },
          { action: 'labelmap', regex: '__meta_kubernetes_pod_annotation_prometheus_io_param_(.+)', replacement: '__param_$1' },
          { action: 'labelmap', regex: '__meta_kubernetes_pod_label_(.+)' },
          { source_labels: ['__meta_kubernetes_namespace'], action: 'replace', target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], action: 'replace', target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Pending|Succeeded|Failed|Completed', action: 'drop' },
          { source_labels: ['__meta_kubernetes_pod_node_name'], action: 'replace', target_label: 'node' },
        ],
      },
    ],
  };
  return `# written by mizzen up --addons prometheus; changes are lost on the next start\n${stringify(config)}`;
}
