import type { ClusterManager } from '../upstream/cluster-manager.ts';

/**
 * Envoy's admin `/clusters`: per cluster its circuit-breaker limits and outlier detection
 * figures, per host its counters, weight, health flags and locality, as `cluster::host::stat::value`
 * lines; with `json`, the `clusterStatuses` of `?format=json`.
 */
export function clustersAdminText(clusters: ClusterManager, json: boolean, now = Date.now()): string {
  if (json) {
    return `${JSON.stringify({
      clusterStatuses: [...clusters.clusters.values()].map((c) => ({
        name: c.config.name,
        hostStatuses: c.hosts.map((h) => ({
          address: { socketAddress: { address: h.address, portValue: h.port } },
          stats: [{ name: 'rq_total', value: h.rqTotal }, { name: 'cx_active', value: h.cxActive }, { name: 'rq_active', value: h.activeRequests }],
          healthStatus: { edsHealthStatus: h.healthy ? 'HEALTHY' : 'UNHEALTHY', failedOutlierCheck: h.ejectedUntil > now },
          weight: h.weight,
        })),
      })),
    }, null, 2)}\n`;
  }
  const lines: string[] = [];
  for (const c of clusters.clusters.values()) {
    const l = c.config.limits;
    lines.push(`${c.config.name}::default_priority::max_connections::${l.maxConnections}`, `${c.config.name}::default_priority::max_pending_requests::${l.maxPendingRequests}`, `${c.config.name}::default_priority::max_requests::${l.maxRequests}`, `${c.config.name}::default_priority::max_retries::${l.maxRetries}`);
    const od = c.outlierDetector;
    if (od) {
      const o = `${c.config.name}::outlier::`;
      lines.push(`${o}success_rate_average::${od.external.average}`, `${o}success_rate_ejection_threshold::${od.external.ejectionThreshold}`, `${o}local_origin_success_rate_average::${od.local.average}`, `${o}local_origin_success_rate_ejection_threshold::${od.local.ejectionThreshold}`);
    }
    for (const h of c.hosts) {
      const p = `${c.config.name}::${h.key}::`;
      const flags = [h.healthy ? 'healthy' : '/eds_health_failed', ...(h.ejectedUntil > now ? ['/failed_outlier_check'] : [])];
      lines.push(`${p}cx_active::${h.cxActive}`, `${p}rq_active::${h.activeRequests}`, `${p}rq_total::${h.rqTotal}`, `${p}weight::${h.weight}`, `${p}health_flags::${flags.join('')}`, `${p}region::${h.locality.split('/')[0] ?? ''}`, `${p}success_rate::${h.outlierCounters.externalSuccessRate}`, `${p}local_origin_success_rate::${h.outlierCounters.localSuccessRate}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
