import { resourceKey, type ConfigResource } from '../api/config-resource.ts';
import type { GatewayStatus } from '../api/gateway-api/gateway-api-types.ts';
import type { Clock } from '../lib/clock.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import type { ConfigDirWriter } from './config-dir-writer.ts';
import { deployedName, derivedFrom, gatewayDeploymentObjects, gatewayRole, gatewayStatus } from './gateway-deployments.ts';
import type { MeshStatusViews } from './mesh-status-views.ts';

/**
 * Keeps the objects istiod's gateway controller would create in step with the Gateways
 * (gateway-deployments.ts) and writes each Gateway's status as its deployment becomes ready or
 * stops being ready, through the status subresource (ClusterObjects.putStatus: a re-applied Gateway
 * keeps its status).
 */
export class GatewayDeploymentController {
  private readonly objects: ClusterObjects;
  private readonly config: ConfigDirWriter;
  private readonly views: MeshStatusViews;
  private readonly clock: Clock;

  constructor(objects: ClusterObjects, config: ConfigDirWriter, views: MeshStatusViews, clock: Clock) {
    this.objects = objects;
    this.config = config;
    this.views = views;
    this.clock = clock;
  }

  private gateways(): ConfigResource[] {
    return this.objects.list('Gateway').filter((g) => gatewayRole(g) !== undefined);
  }

  /** Create or update every Gateway's objects; remove those whose Gateway is gone (or no longer ours). */
  sync(): void {
    const wanted = new Map<string, ConfigResource>();
    for (const g of this.gateways()) for (const o of gatewayDeploymentObjects(g)) wanted.set(resourceKey(this.objects.normalize(o)), this.objects.normalize(o));
    for (const kind of ['Deployment', 'Service', 'ServiceAccount']) {
      for (const o of this.objects.list(kind)) {
        if (derivedFrom(o) && !wanted.has(resourceKey(o))) {
          this.objects.remove(resourceKey(o));
          this.config.remove(o);
        }
      }
    }
    for (const o of wanted.values()) {
      const { stored, changed } = this.objects.put(o);
      if (changed) this.config.write(stored);
    }
  }

  /** Write Gateway statuses that changed (readiness of their deployments). */
  writeStatuses(): void {
    const now = new Date(this.clock.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    for (const g of this.gateways()) {
      const role = gatewayRole(g)!;
      const ns = g.metadata.namespace ?? 'default';
      const view = this.views.deploymentViews(ns).find((d) => d.name === deployedName(g, role));
      const ready = (view?.ready ?? 0) > 0;
      const prev = g.raw.status as GatewayStatus | undefined;
      const next = gatewayStatus(g, ready, prev, now);
      if (prev && JSON.stringify(prev) === JSON.stringify(next)) continue;
      const stored = this.objects.putStatus(resourceKey(g), next);
      if (stored) this.config.write(stored);
    }
  }
}
