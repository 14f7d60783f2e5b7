import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { XdsConnection, WatchedResource } from '../xds/xds-connection.ts';
import { shortType } from '../xds/xds-metrics.ts';

export type SyncState = 'SYNCED' | 'STALE' | 'NOT SENT';

export interface TypeSyncStatus {
  typeUrl: string;
  state: SyncState;
  versionSent?: string;
  versionAcked?: string;
  nonceSent?: string;
  nonceAcked?: string;
  resources: number;
  subscribed: 'wildcard' | string[];
  lastNack?: { nonce: string; version: string; message: string; at: string };
}

/** One proxy's row in /debug/syncz (and `mizzen proxy-status -o json`). */
export interface ProxySyncStatus {
  proxy: string;
  /** `POD.NS`, the name istioctl shows. */
  name: string;
  podName: string;
  namespace: string;
  type: string;
  proxyless: boolean;
  clusterId: string;
  istioVersion: string;
  conId: string;
  protocol: 'sotw' | 'delta';
  peer: string;
  connectedAt: string;
  /** The discovery instance serving it (istioctl's ISTIOD column). */
  controlPlane?: string;
  /** Short type (`cds`, `lds`, ...) → state, for the proxy-status table. */
  status: Record<string, SyncState>;
  types: TypeSyncStatus[];
}

export function typeState(w: WatchedResource | undefined): SyncState {
  if (!w || w.nonceSent === undefined) return 'NOT SENT';
  return w.nonceAcked === w.nonceSent ? 'SYNCED' : 'STALE';
}

const TABLE_TYPES = [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.endpoint, TYPE_URL.route, TYPE_URL.secret];

/** What /debug/syncz reports for a connection. */
export function syncStatus(conn: XdsConnection, controlPlane?: string): ProxySyncStatus {
  const p = conn.proxy;
  const status: Record<string, SyncState> = {};
  for (const t of TABLE_TYPES) status[shortType(t)] = typeState(conn.watched.get(t));
  const types: TypeSyncStatus[] = [];
  for (const w of conn.watched.values()) {
    types.push({
      typeUrl: w.typeUrl,
      state: typeState(w),
      ...(w.versionSent !== undefined ? { versionSent: w.versionSent } : {}),
      ...(w.versionAcked !== undefined ? { versionAcked: w.versionAcked } : {}),
      ...(w.nonceSent !== undefined ? { nonceSent: w.nonceSent } : {}),
      ...(w.nonceAcked !== undefined ? { nonceAcked: w.nonceAcked } : {}),
      resources: w.lastResources.size,
      subscribed: w.wildcard ? 'wildcard' : [...w.names].sort(),
      ...(w.lastNack
        ? { lastNack: { nonce: w.lastNack.nonce, version: w.lastNack.version, message: w.lastNack.message, at: new Date(w.lastNack.at).toISOString() } }
        : {}),
    });
  }
  return {
    proxy: p.id,
    name: `${p.podName}.${p.namespace}`,
    podName: p.podName,
    namespace: p.namespace,
    type: p.type,
    proxyless: p.generator === 'grpc',
    clusterId: p.clusterId,
    istioVersion: p.version,
    conId: conn.conId,
    protocol: conn.protocol,
    peer: conn.peer,
    connectedAt: new Date(conn.connectedAt).toISOString(),
    ...(controlPlane ? { controlPlane } : {}),
    status,
    types,
  };
}
