import { createServer, type Server, type Socket } from 'node:net';
import { getOriginalDestination } from '../../lib/original-dst.ts';
import type { SocketFactory } from './inpod/pod-sockets.ts';
import { serviceFor } from './inbound-proxy.ts';
import type { PodIdentity } from './outbound-proxy.ts';
import { relay } from './relay.ts';
import type { ZtunnelContext } from './ztunnel-context.ts';
import { ConnectionSeries } from './ztunnel-metrics.ts';
import type { ZWorkload } from './workload-model.ts';

/** ztunnel's own in-pod ports: traffic addressed to them never reaches the application. */
export const ILLEGAL_PORTS: ReadonlySet<number> = new Set([15001, 15006, 15008, 15053, 15080]);

/**
 * A pod's plaintext inbound (ztunnel's inbound passthrough, 15006 in the pod): traffic that did
 * not arrive over HBONE (from outside the mesh, or from sidecars under PERMISSIVE). It is
 * authorized with no peer identity — PeerAuthentication STRICT (a DENY on "no principal") refuses
 * it — and then delivered to the original destination from the client's own address.
 */
export class InboundPassthroughProxy {
  private readonly ctx: ZtunnelContext;
  private readonly pod: PodIdentity;
  private readonly sockets: SocketFactory;
  private readonly workload: () => ZWorkload | undefined;
  private readonly server: Server;
  private readonly live = new Set<Socket>();

  constructor(ctx: ZtunnelContext, pod: PodIdentity, sockets: SocketFactory, workload: () => ZWorkload | undefined) {
    this.ctx = ctx;
    this.pod = pod;
    this.sockets = sockets;
    this.workload = workload;
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) => {
      this.live.add(s);
      s.once('close', () => this.live.delete(s));
      s.on('error', () => {});
      this.handle(s);
    });
  }

  listen(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ fd }, () => resolve());
    });
  }

  close(): void {
    this.server.close();
    for (const s of this.live) s.destroy();
  }

  private handle(down: Socket): void {
    const od = getOriginalDestination(down);
    const dest = this.workload();
    if (!od || !dest || ILLEGAL_PORTS.has(od.port)) {
      down.destroy();
      return;
    }
    const srcIp = (down.remoteAddress ?? '').replace(/^::ffff:/, '');
    const source = this.ctx.store.workloadAt(dest.network, srcIp);
    const t = this.ctx.tracker.start({
      series: new ConnectionSeries({ reporter: 'destination', source, sourcePrincipal: undefined, destination: dest, destinationService: serviceFor(this.ctx, dest, undefined, od.port), mtls: false }),
      srcAddr: `${srcIp}:${down.remotePort}`,
      dstAddr: `${od.address}:${od.port}`,
      podUid: this.pod.uid,
    });
    const conn = { srcIp, srcIdentity: undefined, dstIp: od.address, dstPort: od.port };
    const decision = this.ctx.authorizer.check(dest, conn);
    if (!decision.allowed) {
      down.resetAndDestroy();
      this.ctx.tracker.finish(t, 'DENY', `connection closed due to policy rejection: ${decision.reason}`);
      return;
    }
    const up = this.sockets.connect(od.address, od.port, srcIp);
    up.setNoDelay(true);
    let connected = false;
    up.once('connect', () => {
      connected = true;
      t.authz = { destination: dest, conn, close: () => { down.destroy(); up.destroy(); }, bytes: () => [down.bytesRead, down.bytesWritten] };
      down.resume();
      relay(down, up, (error) => {
        this.ctx.tracker.count(t, down.bytesRead, down.bytesWritten);
        this.ctx.tracker.finish(t, '-', error);
      });
    });
    up.once('error', (err: Error & { code?: string }) => {
      if (connected) return;
      down.destroy();
      this.ctx.tracker.finish(t, 'CONNECT', err.code ?? err.message);
    });
  }
}
