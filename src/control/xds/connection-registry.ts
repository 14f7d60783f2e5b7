import type { XdsConnection } from './xds-connection.ts';
import type { XdsMetrics } from './xds-metrics.ts';

/** Every live ADS stream, by connection ID; keeps the `pilot_xds` gauge in step. */
export class ConnectionRegistry {
  private readonly connections = new Map<string, XdsConnection>();
  private readonly metrics: XdsMetrics;
  private readonly listeners = new Set<(event: 'connect' | 'disconnect', conn: XdsConnection) => void>();

  constructor(metrics: XdsMetrics) {
    this.metrics = metrics;
  }

  add(conn: XdsConnection): void {
    this.connections.set(conn.conId, conn);
    this.metrics.connected.inc(labels(conn));
    for (const l of this.listeners) l('connect', conn);
  }

  remove(conn: XdsConnection): void {
    if (this.connections.get(conn.conId) !== conn) return;
    this.connections.delete(conn.conId);
    this.metrics.connected.dec(labels(conn));
    for (const l of this.listeners) l('disconnect', conn);
  }

  list(): XdsConnection[] {
    return [...this.connections.values()];
  }

  get size(): number {
    return this.connections.size;
  }

  /** Connections of a proxy, by full node ID, or by `POD.NS` (or bare POD name). */
  find(proxyId: string): XdsConnection[] {
    return this.list().filter((c) => {
      const p = c.proxy;
      return p.id === proxyId || `${p.podName}.${p.namespace}` === proxyId || p.podName === proxyId;
    });
  }

  onChange(listener: (event: 'connect' | 'disconnect', conn: XdsConnection) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function labels(conn: XdsConnection): { version: string; type: string } {
  return { version: conn.proxy.version || 'unknown', type: conn.proxy.generator === 'grpc' ? 'proxyless' : conn.proxy.type };
}
