import { createServer, type Server, type Socket } from 'node:net';
import { getOriginalDestination } from '../../lib/original-dst.ts';
import { baggageValue, forwardedValue, newTraceparent } from '../hbone/hbone-headers.ts';
import { HboneError } from '../hbone/hbone-pool.ts';
import type { SocketFactory } from './inpod/pod-sockets.ts';
import { routeOutbound, type OutboundRoute } from './outbound-route.ts';
import { relay } from './relay.ts';
import type { ZtunnelContext } from './ztunnel-context.ts';
import { ConnectionSeries, type ResponseFlag } from './ztunnel-metrics.ts';
import type { ZWorkload } from './workload-model.ts';

/**
 * A pod's captured outbound traffic (ztunnel's outbound listener, 15001 in the pod): the
 * original destination from SO_ORIGINAL_DST, the route from the workload API, then HBONE to the
 * destination's ztunnel (mutual TLS with the pod's own identity, pooled per ztunnel's key) or
 * plain TCP for destinations outside the mesh — every upstream socket made in the pod's
 * namespace, so the source address is the pod's own.
 */
export interface PodIdentity {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
}

export class OutboundProxy {
  private readonly ctx: ZtunnelContext;
  private readonly pod: PodIdentity;
  private readonly sockets: SocketFactory;
  private readonly source: () => Promise<ZWorkload | undefined>;
  private readonly server: Server;
  private readonly live = new Set<Socket>();

  constructor(ctx: ZtunnelContext, pod: PodIdentity, sockets: SocketFactory, source: () => Promise<ZWorkload | undefined>) {
    this.ctx = ctx;
    this.pod = pod;
    this.sockets = sockets;
    this.source = source;
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) => {
      this.live.add(s);
      s.once('close', () => this.live.delete(s));
      s.on('error', () => {});
      this.handle(s).catch((err: Error) => {
        this.ctx.log.warn({ pod: `${pod.namespace}/${pod.name}`, err: err.message }, 'outbound connection failed');
        s.destroy();
      });
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

  private async handle(down: Socket): Promise<void> {
    const od = getOriginalDestination(down);
    const local = (down.localAddress ?? '').replace(/^::ffff:/, '');
    if (!od || (od.address === local && od.port === down.localPort)) {
      this.ctx.log.debug({ pod: this.pod.name }, 'outbound connection without an original destination');
      down.destroy();
      return;
    }
    const src = await this.source();
    if (!src) {
      this.ctx.log.warn({ pod: `${this.pod.namespace}/${this.pod.name}` }, 'unknown source workload (not in the workload API yet)');
      down.destroy();
      return;
    }
    let result = routeOutbound(this.ctx.store, src, od.address, od.port);
    if (result.ok && result.route.protocol === 'TCP' && !result.route.workload && !this.ctx.store.hasAddress(`${src.network}/${od.address}`)) {
      await this.ctx.demand(`${src.network}/${od.address}`);
      result = routeOutbound(this.ctx.store, src, od.address, od.port);
    }
    if (!result.ok) {
      this.ctx.log.warn({ src: `${down.remoteAddress}:${down.remotePort}`, dst: `${od.address}:${od.port}`, err: result.reason }, 'connection failed');
      down.destroy();
      return;
    }
    const route = result.route;
    const srcAddr = `${(down.remoteAddress ?? '').replace(/^::ffff:/, '')}:${down.remotePort}`;
    if (route.protocol === 'HBONE') await this.hbone(down, src, route, srcAddr);
    else this.tcp(down, src, route, srcAddr);
  }

  private tcp(down: Socket, src: ZWorkload, route: OutboundRoute, srcAddr: string): void {
    const t = this.ctx.tracker.start({
      series: new ConnectionSeries({ reporter: 'source', source: src, sourcePrincipal: undefined, destination: route.workload, destinationService: route.service, mtls: false }),
      srcAddr,
      dstAddr: `${route.address}:${route.port}`,
      podUid: this.pod.uid,
    });
    const up = this.sockets.connect(route.address, route.port);
    up.setNoDelay(true);
    let connected = false;
    up.once('connect', () => {
      connected = true;
      down.resume();
      relay(down, up, (error) => this.finish(down, t, '-', error));
    });
    up.once('error', (err: Error & { code?: string }) => {
      if (connected) return;
      down.destroy();
      this.ctx.tracker.finish(t, 'CONNECT', err.code ?? err.message);
    });
  }

  private async hbone(down: Socket, src: ZWorkload, route: OutboundRoute, srcAddr: string): Promise<void> {
    const t = this.ctx.tracker.start({
      series: new ConnectionSeries({ reporter: 'source', source: src, sourcePrincipal: src.identity, destination: route.workload, destinationService: route.service, mtls: true }),
      srcAddr,
      dstAddr: `${route.address}:${route.port}`,
      hboneAddr: route.hboneAuthority,
      podUid: this.pod.uid,
    });
    let tunnel;
    try {
      const credentials = this.ctx.certs.current(src.identity) ?? (await this.ctx.certs.credentials(src.identity));
      const downIp = (down.remoteAddress ?? '').replace(/^::ffff:/, '');
      tunnel = await this.ctx.pool.open(
        {
          sourceIdentity: src.identity,
          expectedIdentities: route.expectedIdentities,
          address: route.address,
          port: route.port,
          sourceAddress: downIp,
          credentials,
          connectSocket: () => this.sockets.connect(route.address, route.port),
        },
        route.hboneAuthority!,
        {
          forwarded: forwardedValue(downIp, down.remotePort ?? 0, route.service?.hostname),
          baggage: baggageValue({ clusterId: src.clusterId, namespace: src.namespace, workloadType: src.workloadType, workloadName: src.workloadName, serviceName: src.canonicalName, revision: src.canonicalRevision, region: src.locality?.region, zone: src.locality?.zone }),
          traceparent: newTraceparent(),
        },
      );
    } catch (err) {
      down.destroy();
      const e = err as Error;
      // as ztunnel: a status other than 200 from the destination (a 401 for its policy included)
      // is a connection failure at the source (Error::HttpStatus → CONNECT); DENY is the
      // destination's flag
      const flag: ResponseFlag = e instanceof HboneError ? (e.flag === 'REFUSED' ? 'CONNECT' : e.flag) : 'CONNECT';
      this.ctx.tracker.finish(t, flag, e.message);
      return;
    }
    if (down.destroyed) {
      tunnel.stream.destroy();
      this.ctx.tracker.finish(t, '-', 'downstream closed');
      return;
    }
    down.resume();
    relay(down, tunnel.stream, (error) => this.finish(down, t, '-', error));
  }

  private finish(down: Socket, t: ReturnType<ZtunnelContext['tracker']['start']>, flag: ResponseFlag, error?: string): void {
    this.ctx.tracker.count(t, down.bytesRead, down.bytesWritten);
    this.ctx.tracker.finish(t, flag, error);
  }
}
