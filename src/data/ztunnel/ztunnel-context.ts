import type { Logger } from '../../lib/log.ts';
import type { PodDnsOptions } from './inpod/pod-dns.ts';
import type { HbonePool } from '../hbone/hbone-pool.ts';
import type { ConnectionTracker } from './connection-tracker.ts';
import type { IdentityCertificates } from './identity-certificates.ts';
import type { L4Authorizer } from './l4-authorizer.ts';
import type { WorkloadStore } from './workload-store.ts';
import type { ZWorkload } from './workload-model.ts';
import type { ZtunnelMetrics } from './ztunnel-metrics.ts';

/** What every pod's proxies share inside one ztunnel (ztunnel's ProxyInputs). */
export interface ZtunnelContext {
  store: WorkloadStore;
  /** On-demand lookup of a `network/IP` (resolves at once in wildcard mode). */
  demand(name: string): Promise<void>;
  authorizer: L4Authorizer;
  certs: IdentityCertificates;
  pool: HbonePool;
  tracker: ConnectionTracker;
  metrics: ZtunnelMetrics;
  log: Logger;
  /** This ztunnel's network ('' = the default network). */
  network: string;
  /** The mesh trust domain (identities of pods not yet in the workload API). */
  trustDomain: string;
  /** The in-pod DNS proxy (15053); undefined: not served. */
  dns: PodDnsOptions | undefined;
}

/** Wait (up to `timeoutMs`) until the store has the workload `namespace/name` (ztunnel waits 5 s). */
export function waitForWorkload(store: WorkloadStore, namespace: string, name: string, timeoutMs = 5000): Promise<ZWorkload | undefined> {
  const now = store.workloadNamed(namespace, name);
  if (now) return Promise.resolve(now);
  return new Promise((resolve) => {
    const stop = store.onChange(() => {
      const w = store.workloadNamed(namespace, name);
      if (w) {
        clearTimeout(timer);
        stop();
        resolve(w);
      }
    });
    const timer = setTimeout(() => {
      stop();
      resolve(undefined);
    }, timeoutMs);
    timer.unref();
  });
}
