import type { ConfigResource } from '../api/config-resource.ts';
import type { Logger } from '../lib/log.ts';
import type { AmbientPods } from './ambient-pods.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import type { ConfigDirWriter } from './config-dir-writer.ts';
import { corednsHosts } from './coredns-hosts.ts';
import type { MeshStatusViews } from './mesh-status-views.ts';
import { renderHosts } from './pod-dns-files.ts';
import type { PodInstance } from './pod-instance.ts';
import { renderServiceNatRules } from './service-nat-rules.ts';
import { serviceNatEntries } from './service-endpoints.ts';

export interface PodStatePublisherOptions {
  pods: ReadonlyMap<string, PodInstance>;
  objects: ClusterObjects;
  views: MeshStatusViews;
  config: ConfigDirWriter;
  ambient: AmbientPods;
  log: Logger;
  /** Every Pod object written (the node's own pods first), for a Kubernetes-facing view. */
  onPodObjects?: (pods: readonly ConfigResource[]) => void;
}

/**
 * What the running pods mean for everyone else, as the kubelet, kube-proxy and the endpoints
 * controller publish it: each pod's Pod object (IP, readiness) for the control plane, and in
 * every pod the Service DNAT rules and hosts file that follow the pods. Only what changed since
 * the last publication is written.
 */
export class PodStatePublisher {
  private readonly o: PodStatePublisherOptions;
  /** Per pod: what was last written (Pod object + rules + hosts). */
  private readonly written = new Map<string, string>();
  /**
   * Readiness as last written to the control plane, by pod key. A rollout counts a new pod as
   * ready only once discovery has been told (Kubernetes' deployment controller reads the same Pod
   * status the endpoints controller does), or an old pod's removal could reach the proxies before
   * its replacement's readiness: a moment with no healthy endpoint (a no-healthy-upstream 503).
   */
  private readonly published = new Map<string, boolean>();

  constructor(options: PodStatePublisherOptions) {
    this.o = options;
  }

  /** Services with a VIP, for hosts files. */
  serviceNames(): { name: string; namespace: string; vip: string }[] {
    return this.o.objects.serviceViews().filter((s) => s.vip && s.vip !== 'None');
  }

  /** The Service DNAT table every pod gets (kube-proxy's role). */
  serviceRules(): string {
    return renderServiceNatRules(serviceNatEntries(this.o.objects.serviceViews(), this.o.views.endpointPods()), this.o.objects.vips.cidrText);
  }

  /** A pod that is gone: the next pod of that name is written afresh. */
  forget(key: string): void {
    this.written.delete(key);
    this.published.delete(key);
  }

  /** Was the pod last written to the control plane as ready? */
  publishedReady(key: string): boolean {
    return this.published.get(key) === true;
  }

  /** Push pods' state out: Pod objects for the control plane, hosts files and Service DNAT tables. */
  async publish(): Promise<void> {
    const o = this.o;
    const rules = this.serviceRules();
    const names = this.serviceNames();
    const extra = corednsHosts(o.objects.list('ConfigMap'));
    const objects: ConfigResource[] = [];
    // pods gaining readiness are written before pods losing it (a rollout's replacement before
    // the pod it replaces), so no push in between sees neither as ready
    const pods = [...o.pods.values()].sort((a, b) => Number(b.isReady()) - Number(a.isReady()));
    for (const pod of pods) {
      this.published.set(pod.key, pod.isReady());
      const res = o.ambient.podObject(pod);
      objects.push(res);
      const network = `\n${rules}\n${renderHosts(pod, names, 'cluster.local', extra)}`;
      const cache = JSON.stringify(res.raw) + network;
      const prev = this.written.get(pod.key);
      if (prev === cache) continue;
      o.config.write(res);
      try {
        if (!prev || !prev.endsWith(network)) {
          await pod.applyServiceRules(rules);
          await pod.updateEtc({ hosts: network.slice(rules.length + 2) });
        }
        this.written.set(pod.key, cache);
      } catch (err) {
        o.log.warn({ pod: pod.key, err: (err as Error).message }, 'cannot update pod network');
      }
    }
    o.onPodObjects?.([...o.ambient.nodePods(), ...objects]);
  }
}
