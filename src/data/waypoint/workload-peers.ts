import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { loadWorkloadRoot } from '../../api/workload/workload-protos.ts';
import { loadDiscoveryEnvoyRoot } from '../../api/xds/proxy-envoy-root.ts';
import type { PeerInfo } from '../telemetry/peer-metadata.ts';
import type { XdsTransport } from '../xds-client/ads-client.ts';
import { WorkloadStore } from '../ztunnel/workload-store.ts';
import { WorkloadXdsClient } from '../ztunnel/workload-xds-client.ts';
import type { ZWorkload } from '../ztunnel/workload-model.ts';

/**
 * A waypoint's view of the workload API (Istio's waypoints discover peers from the Workload
 * resources istiod sends them, as ztunnel does): a second ADS stream to discovery subscribed to
 * `istio.workload.Address`, kept in a WorkloadStore, answering "which workload has this IP" for
 * the source and destination labels of `reporter="waypoint"` metrics (the client's tunnel
 * address, the endpoint the waypoint chose).
 */
export class WorkloadPeers {
  private readonly store = new WorkloadStore();
  private readonly client: WorkloadXdsClient;
  private readonly ids = new Map<string, PeerInfo>();

  constructor(o: { discovery: string; node: Record<string, unknown>; transport: XdsTransport | undefined; clock: Clock; log: Logger }) {
    this.client = new WorkloadXdsClient({
      target: o.discovery,
      node: o.node,
      envoyRoot: loadDiscoveryEnvoyRoot(),
      workloadRoot: loadWorkloadRoot(),
      store: this.store,
      clock: o.clock,
      log: o.log,
      ...(o.transport ? { transport: o.transport } : {}),
    });
  }

  start(): void {
    this.client.start();
  }

  close(): void {
    this.client.close();
  }

  /** The workload at an IP (default network) as telemetry's peer, undefined when unknown. */
  peerAt(ip: string): PeerInfo | undefined {
    const w = this.store.workloadAt('', ip);
    return w ? this.peerOf(w) : undefined;
  }

  private peerOf(w: ZWorkload): PeerInfo {
    const key = `${w.uid}|${w.canonicalName}|${w.canonicalRevision}|${w.serviceAccount}`;
    let p = this.ids.get(key);
    if (!p) {
      if (this.ids.size > 4096) this.ids.clear();
      // ids distinct from exchanged peers' (small positive integers) and the proxy's own (-1)
      p = {
        id: -2 - this.ids.size,
        workload: w.workloadName || w.name,
        namespace: w.namespace,
        app: w.canonicalName || 'unknown',
        version: w.canonicalRevision || 'unknown',
        canonicalService: w.canonicalName || 'unknown',
        canonicalRevision: w.canonicalRevision || 'latest',
        serviceAccount: w.serviceAccount,
        cluster: w.clusterId || 'unknown',
        meshId: w.trustDomain || 'cluster.local',
      };
      this.ids.set(key, p);
    }
    return p;
  }
}
