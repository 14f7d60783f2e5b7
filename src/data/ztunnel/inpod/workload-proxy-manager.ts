import { NetworkNamespace } from '../../../lib/network-namespace.ts';
import type { ZdsWorkloadInfo } from '../../../api/workload/zds-codec.ts';
import type { ZtunnelContext } from '../ztunnel-context.ts';
import { WorkloadProxy } from './workload-proxy.ts';

/**
 * The pods this ztunnel proxies, by ZDS uid (zt:src/inpod/statemanager.rs): add starts a pod's
 * proxies in the namespace whose fd came with the message (an add for a known uid keeps the
 * running proxies), del stops them at once, and after a (re)connection the snapshot marker
 * drops every pod the node agent did not mention since.
 */
export class WorkloadProxyManager {
  private readonly ctx: ZtunnelContext;
  private readonly home: NetworkNamespace;
  private readonly proxies = new Map<string, WorkloadProxy>();
  private seenSinceConnect = new Set<string>();
  snapshotReceived = false;

  constructor(ctx: ZtunnelContext) {
    this.ctx = ctx;
    this.home = NetworkNamespace.current();
  }

  get size(): number {
    return this.proxies.size;
  }

  list(): { uid: string; name: string; namespace: string; serviceAccount: string; netns: string }[] {
    return [...this.proxies].map(([uid, p]) => ({ uid, name: p.pod.name, namespace: p.pod.namespace, serviceAccount: p.pod.serviceAccount, netns: p.netnsDescription }));
  }

  /** A new connection to the node agent: a snapshot follows. */
  connected(): void {
    this.seenSinceConnect = new Set();
  }

  async add(uid: string, info: ZdsWorkloadInfo | undefined, netnsFd: number): Promise<void> {
    this.seenSinceConnect.add(uid);
    const netns = new NetworkNamespace(netnsFd, `netns fd of ${info?.namespace ?? '?'}/${info?.name ?? uid}`);
    if (this.proxies.has(uid)) {
      netns.close();
      return;
    }
    if (!info) {
      netns.close();
      throw new Error(`AddWorkload ${uid} without workload info`);
    }
    const proxy = new WorkloadProxy(this.ctx, { uid, name: info.name, namespace: info.namespace, serviceAccount: info.serviceAccount }, netns, this.home);
    this.proxies.set(uid, proxy);
    this.ctx.metrics.pendingProxies++;
    try {
      await proxy.start();
      this.ctx.metrics.proxiesStarted++;
      this.ctx.metrics.activeProxies = this.proxies.size;
      this.ctx.log.info({ uid, pod: `${info.namespace}/${info.name}` }, 'pod added: in-pod listeners 15001, 15006, 15008 up');
    } catch (err) {
      proxy.stop();
      this.proxies.delete(uid);
      throw err;
    } finally {
      this.ctx.metrics.pendingProxies--;
    }
  }

  keep(uid: string): void {
    this.seenSinceConnect.add(uid);
  }

  del(uid: string): void {
    const p = this.proxies.get(uid);
    if (!p) return;
    this.proxies.delete(uid);
    p.stop();
    this.ctx.metrics.proxiesStopped++;
    this.ctx.metrics.activeProxies = this.proxies.size;
    this.ctx.log.info({ uid, pod: `${p.pod.namespace}/${p.pod.name}` }, 'pod removed: proxies stopped');
  }

  /** The node agent replayed everything it has: forget the rest. */
  snapshotSent(): void {
    for (const uid of [...this.proxies.keys()]) if (!this.seenSinceConnect.has(uid)) this.del(uid);
    this.snapshotReceived = true;
  }

  close(): void {
    for (const uid of [...this.proxies.keys()]) this.del(uid);
    this.home.close();
  }
}
