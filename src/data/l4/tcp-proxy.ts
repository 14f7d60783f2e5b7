import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { notifyObservers, type StreamInfo, type StreamObserver } from '../l7/stream-info.ts';
import type { TcpProxyConfig } from './tcp-proxy-config.ts';
import type { TcpMetadataExchange } from '../telemetry/tcp-metadata-exchange.ts';

/**
 * tcp_proxy as a pure byte relay: pick the cluster (weighted), a host, connect (raw or TLS per
 * the cluster's transport socket) and pipe both directions with no per-chunk work beyond byte
 * counting. Circuit breaker max_connections applies; failures close the downstream connection.
 * Half-close propagates both ways (a FIN from one peer ends the write side toward the other).
 * With `mx` and a cluster carrying istio.metadata_exchange whose TLS negotiated
 * istio-peer-exchange, the peers' metadata headers are swapped first (then the pipe is pure).
 * Observers see the stream start once the upstream peer is known (or at the end on failure).
 */
export function proxyTcp(
  downstream: net.Socket,
  initial: Buffer | undefined,
  cfg: TcpProxyConfig,
  clusters: ClusterManager,
  info: StreamInfo,
  observers: readonly StreamObserver[],
  mx?: TcpMetadataExchange,
): void {
  let clusterName = cfg.cluster;
  if (cfg.weighted) {
    let r = Math.random() * cfg.totalWeight;
    for (const w of cfg.weighted) {
      r -= w.weight;
      if (r < 0) {
        clusterName = w.name;
        break;
      }
    }
    clusterName ??= cfg.weighted[cfg.weighted.length - 1].name;
  }
  info.clusterName = clusterName ?? '';
  info.protocol = 'tcp';
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    for (const o of observers) o.onStreamStart?.(info);
  };
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    start();
    finished = true;
    info.endMs = performance.now();
    notifyObservers(observers, info);
  };
  const cluster = clusterName ? clusters.get(clusterName) : undefined;
  if (!cluster) {
    info.addFlag('NC');
    downstream.destroy();
    finish();
    return;
  }
  if (cluster.breaker.connections >= cluster.config.limits.maxConnections) {
    cluster.stats.cxOverflow++;
    info.addFlag('UO');
    downstream.destroy();
    finish();
    return;
  }
  let host;
  if (cluster.followsDestination()) {
    host = cluster.originalDestinationHostFor(info.originalDestination || `${info.downstreamLocalAddress}:${info.downstreamLocalPort}`);
  } else host = cluster.pick(undefined, undefined);
  if (!host) {
    cluster.stats.noHealthyHost++;
    info.addFlag('UH');
    downstream.destroy();
    finish();
    return;
  }
  info.upstreamHost = host.key;
  downstream.pause();
  const initialBytes = downstream.bytesRead - (initial?.length ?? 0);
  const pending: Buffer[] = initial && initial.length > 0 ? [initial] : [];
  cluster.breaker.connections++;
  cluster.stats.cxTotal++;
  host.cxActive++;
  const h = host;
  let attempts = 0;
  // tcp_proxy hands the PROXY header the downstream connection's ends (Envoy's proxy-protocol filter state)
  const proxyHeader = cluster.proxyHeaderFor(h, { source: { address: info.downstreamRemoteAddress, port: info.downstreamRemotePort }, destination: downstreamDestination(info) });
  const connectOnce = (): void => {
    attempts++;
    cluster.connector.connectHost(h, cluster.tlsFor(h), cluster.config.connectTimeoutMs, (err, upstream) => {
      if (err || !upstream) {
        cluster.stats.cxConnectFail++;
        cluster.recordResult(h, 503, true);
        if (attempts < cfg.maxConnectAttempts && !downstream.destroyed) return connectOnce();
        cluster.breaker.connections--;
        h.cxActive--;
        info.addFlag('UF');
        info.upstreamTransportFailureReason = err?.detail ?? '';
        downstream.destroy();
        finish();
        return;
      }
      if (downstream.destroyed) {
        upstream.destroy();
        cluster.breaker.connections--;
        h.cxActive--;
        finish();
        return;
      }
      cluster.recordConnectSuccess(h);
      if (cfg.tunneling) {
        // node:http and node:http2 load with the first tunnel, not with every proxy
        const tunneling = cfg.tunneling;
        void import('./tcp-tunnel.ts').then(({ openTunnel }) => openTunnel(upstream, tunneling, cluster.config.http2, (terr, stream) => {
          if (terr || !stream || downstream.destroyed) {
            stream?.destroy();
            cluster.breaker.connections--;
            h.cxActive--;
            info.addFlag('UF');
            info.upstreamTransportFailureReason = terr ?? '';
            downstream.destroy();
            finish();
            return;
          }
          relay(stream, undefined);
        }), (err: unknown) => {
          upstream.destroy();
          cluster.breaker.connections--;
          h.cxActive--;
          info.addFlag('UF');
          info.upstreamTransportFailureReason = `tunnel: ${(err as Error).message}`;
          downstream.destroy();
          finish();
        });
        return;
      }
      if (mx && cluster.config.metadataExchange && mx.negotiated(upstream)) {
        upstream.on('error', () => undefined);
        mx.upstream(upstream, info, (ok, rest) => {
          if (!ok || downstream.destroyed) {
            upstream.destroy();
            downstream.destroy();
            cluster.breaker.connections--;
            h.cxActive--;
            finish();
            return;
          }
          relay(upstream, rest);
        });
        return;
      }
      relay(upstream, undefined);
    }, true, proxyHeader);
  };
  /** One socket closed: a clean close (both directions ended) only ends the other; anything else (error, idle, drain) tears it down. */
  const closeOther = (closed: Duplex, other: Duplex): void => {
    if (other.destroyed) return;
    if (closed.readableEnded && closed.writableFinished) other.end();
    else other.destroy();
  };
  const relay = (upstream: Duplex, fromUpstream: Buffer | undefined): void => {
    start();
    // bytes sent count from here (not the metadata header written to an inbound peer)
    const sentBase = downstream.bytesWritten;
    if (fromUpstream) downstream.write(fromUpstream);
    for (const b of pending) upstream.write(b);
    // Half-close as Envoy: the end of one direction ends the other socket's write side (pipe's
    // default end: true; both sockets are allowHalfOpen); each socket closes once both of its
    // directions ended, and the connection is done when the upstream closed.
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.resume();
    const idle = cfg.idleTimeoutMs;
    if (idle > 0) {
      downstream.setTimeout(idle, () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    upstream.on('error', () => downstream.destroy());
    downstream.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      info.bytesReceived += downstream.bytesRead - initialBytes;
      info.bytesSent += downstream.bytesWritten - sentBase;
      cluster.breaker.connections--;
      h.cxActive--;
      closeOther(upstream, downstream);
      finish();
    });
    downstream.on('close', () => closeOther(downstream, upstream));
    if (upstream.isPaused()) upstream.resume();
  };
  downstream.on('error', () => undefined);
  connectOnce();
}

/** The downstream connection's destination: the original destination of a captured connection, else its local address. */
function downstreamDestination(info: StreamInfo): { address: string; port: number } {
  const od = info.originalDestination;
  const colon = od.lastIndexOf(':');
  if (colon > 0) return { address: od.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(od.slice(colon + 1)) };
  return { address: info.downstreamLocalAddress, port: info.downstreamLocalPort };
}
