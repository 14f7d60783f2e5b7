import { join } from 'node:path';
import type { ConfigResource } from '../api/config-resource.ts';
import type { ServiceSpec } from '../api/kube/service.ts';
import { DashboardServer, type DashboardSources, type ProxySync } from '../dashboard/dashboard-server.ts';
import { scrapeTargetsOf } from '../dashboard/mesh-scraper.ts';
import type { Logger } from '../lib/log.ts';
import { DISCOVERY_SOCKET } from './control-plane-process.ts';
import { discoveryJson } from './discovery-json.ts';
import type { MeshRuntime } from './mesh-runtime.ts';
import { dialThroughNodeAgent } from './node-agent-dial.ts';

export interface MeshDashboardOptions {
  runtime: MeshRuntime;
  stateDir: string;
  meshName: string;
  /** The Pod objects the runtime last pushed (annotations after injection). */
  podObjects: () => readonly ConfigResource[];
  log: Logger;
}

/**
 * The dashboard of a `mizzen up` mesh: its sources are the runtime's pods and objects, discovery's
 * /debug/syncz, and the node agent, which reaches proxies and Zipkin inside the mesh.
 */
export function meshDashboard(o: MeshDashboardOptions): DashboardServer {
  const views = o.runtime.views;
  const sources: DashboardSources = {
    meshName: o.meshName,
    dial: (host, port) => dialThroughNodeAgent(join(o.stateDir, 'node-agent.sock'), host, port),
    pods: () => views.podViews().map((p) => ({ namespace: p.namespace, name: p.name, workload: p.owner ? p.owner.slice(p.owner.indexOf('/') + 1) : p.name, labels: p.labels, proxied: p.sidecar })),
    scrapeTargets: () => scrapeTargetsOf(o.podObjects()),
    objects: () => views.configObjects(),
    proxyStatus: async () => (await discoveryJson(join(o.stateDir, DISCOVERY_SOCKET), '/debug/syncz')) as ProxySync[],
    zipkin: () => {
      const svc = views.configObjects().find((r) => r.kind === 'Service' && r.group === '' && r.metadata.name === 'zipkin' && (r.spec as ServiceSpec).ports?.some((p) => p.port === 9411));
      if (!svc) return undefined;
      return views.serviceTargets(svc.metadata.namespace ?? 'default', 'zipkin', 9411)[0];
    },
  };
  return new DashboardServer({ sources, log: o.log });
}
