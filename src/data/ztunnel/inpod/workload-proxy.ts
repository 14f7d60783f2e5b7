import type { NetworkNamespace } from '../../../lib/network-namespace.ts';
import { InboundPassthroughProxy } from '../inbound-passthrough-proxy.ts';
import { InboundProxy } from '../inbound-proxy.ts';
import { OutboundProxy, type PodIdentity } from '../outbound-proxy.ts';
import { waitForWorkload, type ZtunnelContext } from '../ztunnel-context.ts';
import type { ZWorkload } from '../workload-model.ts';
import { PodDns } from './pod-dns.ts';
import { PodSockets } from './pod-sockets.ts';

/**
 * Everything ztunnel runs for one enrolled pod (zt:src/inpod/workloadmanager.rs + proxy
 * factory): the outbound (127.0.0.1:15001), inbound HBONE (15008) and inbound plaintext (15006)
 * listeners, the DNS proxy (127.0.0.1:15053, UDP and TCP), all opened inside the pod's namespace with SO_REUSEPORT, and the pod's certificate
 * kept fresh while it runs. Stopping closes the listeners and every connection of the pod at
 * once (the pod is gone, or left the mesh).
 */
export const OUTBOUND_PORT = 15001;
export const INBOUND_PLAINTEXT_PORT = 15006;
export const INBOUND_PORT = 15008;

export class WorkloadProxy {
  readonly pod: PodIdentity;
  readonly netnsDescription: string;
  private readonly ctx: ZtunnelContext;
  private readonly sockets: PodSockets;
  private readonly outbound: OutboundProxy;
  private readonly inbound: InboundProxy;
  private readonly passthrough: InboundPassthroughProxy;
  private readonly dns: PodDns | undefined;
  private releaseCert: (() => void) | undefined;
  private stopRenewals: (() => void) | undefined;
  private stopped = false;
  private cached: ZWorkload | undefined;

  constructor(ctx: ZtunnelContext, pod: PodIdentity, netns: NetworkNamespace, home: NetworkNamespace) {
    this.ctx = ctx;
    this.pod = pod;
    this.netnsDescription = netns.description;
    this.sockets = new PodSockets(netns, home);
    const workloadNow = (): ZWorkload | undefined => {
      const w = ctx.store.workloadNamed(pod.namespace, pod.name);
      if (w) this.cached = w;
      return w ?? this.cached;
    };
    this.outbound = new OutboundProxy(ctx, pod, this.sockets, async () => workloadNow() ?? (await waitForWorkload(ctx.store, pod.namespace, pod.name)));
    this.inbound = new InboundProxy(ctx, pod, this.sockets, workloadNow);
    this.passthrough = new InboundPassthroughProxy(ctx, pod, this.sockets, workloadNow);
    this.dns = ctx.dns ? new PodDns(pod, this.sockets, ctx.dns) : undefined;
  }

  /**
   * Open the listeners now (connections queue in their backlog until served) and serve them;
   * HBONE inbound is served once the pod's certificate is issued (fetched now, not awaited:
   * the node agent gets its ack as soon as the listeners exist).
   */
  async start(): Promise<void> {
    const outFd = this.sockets.listener(OUTBOUND_PORT, '127.0.0.1');
    const passFd = this.sockets.listener(INBOUND_PLAINTEXT_PORT, '0.0.0.0');
    const inFd = this.sockets.listener(INBOUND_PORT, '0.0.0.0');
    await this.outbound.listen(outFd);
    await this.passthrough.listen(passFd);
    await this.dns?.start();
    const w = this.ctx.store.workloadNamed(this.pod.namespace, this.pod.name);
    const identity = w?.identity ?? `spiffe://${this.ctx.trustDomain}/ns/${this.pod.namespace}/sa/${this.pod.serviceAccount || 'default'}`;
    this.releaseCert = this.ctx.certs.hold(identity);
    void this.serveInbound(inFd, identity).catch((err: Error) => this.ctx.log.error({ pod: `${this.pod.namespace}/${this.pod.name}`, err: err.message }, 'HBONE inbound could not start'));
  }

  private async serveInbound(fd: number, identity: string): Promise<void> {
    const creds = await this.ctx.certs.credentials(identity);
    if (this.stopped) return;
    await this.inbound.listen(fd, creds);
    this.stopRenewals = this.ctx.certs.onRenewed(identity, (c) => this.inbound.updateCredentials(c));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.outbound.close();
    this.passthrough.close();
    this.inbound.close();
    this.dns?.close();
    for (const t of this.ctx.tracker.ownedBy(this.pod.uid)) {
      t.authz?.close('workload removed');
      this.ctx.tracker.finish(t, '-', 'workload removed from ztunnel');
    }
    this.stopRenewals?.();
    this.releaseCert?.();
    this.sockets.close();
  }
}
