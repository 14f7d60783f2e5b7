import type { EndpointSpec } from './endpoint-config.ts';
import type { Http1Pool } from './http1-pool.ts';
import { HostOutlierCounters } from './outlier-detector.ts';

/** One upstream endpoint with its live state: load, outlier status, connection pool. */
export class Host {
  readonly address: string;
  readonly port: number;
  readonly key: string;
  weight: number;
  healthy: boolean;
  metadata: Readonly<Record<string, unknown>>;
  locality: string;
  hostname: string;
  priority: number;
  localityWeight: number;
  /** Reached through this internal listener (an `envoy_internal_address` endpoint), not a socket. */
  readonly internalListener: string | undefined;
  activeRequests = 0;
  /** When the host joined its cluster (clock ms): slow start counts from here. */
  addedAt = 0;
  /** Outlier detection: ejected until this time (ms, clock time), 0 = not ejected. */
  ejectedUntil = 0;
  ejections = 0;
  consecutive5xx = 0;
  consecutiveGatewayFailure = 0;
  /** Outlier detection: this interval's success counts and local-origin failures. */
  readonly outlierCounters = new HostOutlierCounters();
  pool: Http1Pool | undefined;
  /** Stats. */
  rqTotal = 0;
  rqError = 0;
  cxActive = 0;

  constructor(e: EndpointSpec) {
    this.address = e.address;
    this.port = e.port;
    const tunnel = e.metadata['tunnel.address'];
    this.key = `${e.internalListener ? `${e.internalListener}/` : ''}${typeof tunnel === 'string' ? `${tunnel}/` : ''}${e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`}`;
    this.weight = e.weight;
    this.healthy = e.healthy;
    this.metadata = e.metadata;
    this.locality = e.locality;
    this.hostname = e.hostname;
    this.priority = e.priority;
    this.localityWeight = e.localityWeight;
    this.internalListener = e.internalListener;
  }

  update(e: EndpointSpec): void {
    this.weight = e.weight;
    this.healthy = e.healthy;
    this.metadata = e.metadata;
    this.locality = e.locality;
    this.hostname = e.hostname;
    this.priority = e.priority;
    this.localityWeight = e.localityWeight;
  }

  available(now: number): boolean {
    return this.healthy && this.ejectedUntil <= now;
  }
}
