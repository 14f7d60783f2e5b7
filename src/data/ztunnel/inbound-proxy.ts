import { HboneServer, respondError, type HboneRequest } from '../hbone/hbone-server.ts';
import { baggageValue, forwardedHost } from '../hbone/hbone-headers.ts';
import type { HboneCredentials } from '../hbone/hbone-settings.ts';
import type { SocketFactory } from './inpod/pod-sockets.ts';
import type { PodIdentity } from './outbound-proxy.ts';
import { relay } from './relay.ts';
import type { ZtunnelContext } from './ztunnel-context.ts';
import { ConnectionSeries } from './ztunnel-metrics.ts';
import type { ZService, ZWorkload } from './workload-model.ts';

/**
 * A pod's HBONE inbound (ztunnel's inbound 15008 in the pod): mutual TLS with the pod's own
 * certificate, CONNECT to this pod's `IP:PORT` only (400 otherwise), L4 authorization with the
 * peer's identity (401 and flag DENY when refused), then a connection to the application from
 * the client's own address (the app sees the real source), 503 and flag CONNECT when that
 * fails; 200 only once the upstream is connected. Open connections are re-checked when policies
 * change.
 */
export class InboundProxy {
  private readonly ctx: ZtunnelContext;
  private readonly pod: PodIdentity;
  private readonly sockets: SocketFactory;
  private readonly workload: () => ZWorkload | undefined;
  private server: HboneServer | undefined;

  constructor(ctx: ZtunnelContext, pod: PodIdentity, sockets: SocketFactory, workload: () => ZWorkload | undefined) {
    this.ctx = ctx;
    this.pod = pod;
    this.sockets = sockets;
    this.workload = workload;
  }

  /** Serve on the pod's 15008 fd with the pod's certificate (connections wait in the backlog until then). */
  async listen(fd: number, credentials: HboneCredentials): Promise<void> {
    this.server = new HboneServer({ credentials, log: this.ctx.log, onRequest: (req) => this.handle(req) });
    await this.server.listen({ fd });
  }

  updateCredentials(c: HboneCredentials): void {
    this.server?.updateCredentials(c);
  }

  close(): void {
    this.server?.close();
  }

  private handle(req: HboneRequest): void {
    const dest = this.workload();
    if (!dest) {
      respondError(req.stream, 503);
      return;
    }
    if (!dest.ips.includes(req.target.host)) {
      this.ctx.log.warn({ pod: `${this.pod.namespace}/${this.pod.name}`, authority: req.authority }, 'HBONE CONNECT to an address that is not this pod (400)');
      respondError(req.stream, 400);
      return;
    }
    const srcIp = req.remoteAddress;
    const source = this.ctx.store.workloadAt(dest.network, srcIp);
    const service = serviceFor(this.ctx, dest, forwardedHost(req.headers.forwarded), req.target.port);
    const t = this.ctx.tracker.start({
      series: new ConnectionSeries({ reporter: 'destination', source, sourcePrincipal: req.peerIdentity, destination: dest, destinationService: service, mtls: true }),
      srcAddr: `${srcIp}:${req.remotePort}`,
      dstAddr: `${req.localAddress}:${req.localPort}`,
      hboneAddr: req.authority,
      podUid: this.pod.uid,
    });
    const conn = { srcIp, srcIdentity: req.peerIdentity, dstIp: req.target.host, dstPort: req.target.port };
    const decision = this.ctx.authorizer.check(dest, conn);
    if (!decision.allowed) {
      respondError(req.stream, 401);
      this.ctx.tracker.finish(t, 'DENY', `connection closed due to policy rejection: ${decision.reason}`);
      return;
    }
    const up = this.sockets.connect(req.target.host, req.target.port, srcIp);
    up.setNoDelay(true);
    let connected = false;
    up.once('connect', () => {
      connected = true;
      if (req.stream.destroyed) {
        up.destroy();
        this.ctx.tracker.finish(t, '-', 'client went away');
        return;
      }
      req.stream.respond({ ':status': 200, baggage: baggageValue({ clusterId: dest.clusterId, namespace: dest.namespace, workloadType: dest.workloadType, workloadName: dest.workloadName, serviceName: dest.canonicalName, revision: dest.canonicalRevision }) });
      t.authz = { destination: dest, conn, close: () => { req.stream.destroy(); up.destroy(); }, bytes: () => [up.bytesWritten, up.bytesRead] };
      relay(req.stream, up, (error) => {
        this.ctx.tracker.count(t, up.bytesWritten, up.bytesRead);
        this.ctx.tracker.finish(t, '-', error);
      });
    });
    up.once('error', (err: Error & { code?: string }) => {
      if (connected) return;
      respondError(req.stream, 503);
      this.ctx.tracker.finish(t, 'CONNECT', `upstream ${req.target.host}:${req.target.port}: ${err.code ?? err.message}`);
    });
  }
}

/** The service an inbound connection was meant for (ztunnel's guess_inbound_service): the Forwarded host, else the one service of the workload with this target port. */
export function serviceFor(ctx: ZtunnelContext, dest: ZWorkload, host: string | undefined, port: number): ZService | undefined {
  if (host) {
    const named = ctx.store.servicesNamed(host);
    const own = named.find((s) => dest.services.has(s.key)) ?? named[0];
    if (own) return own;
  }
  const candidates: ZService[] = [];
  for (const [key, ports] of dest.services) {
    const s = ctx.store.service(key);
    if (!s) continue;
    if (ports.some((p) => (p.targetPort || s.ports.find((sp) => sp.servicePort === p.servicePort)?.targetPort) === port)) candidates.push(s);
  }
  return candidates.length === 1 ? candidates[0] : undefined;
}
