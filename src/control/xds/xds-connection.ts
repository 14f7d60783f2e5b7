import type { ProxyInfo } from './proxy-info.ts';
import type { XdsSnapshot } from './xds-snapshot.ts';
import type { PartialPush } from './partial-push.ts';
import { SentResources } from './sent-resources.ts';

export interface NackRecord {
  nonce: string;
  version: string;
  message: string;
  code: number;
  at: number;
}

/** Per type URL state of one stream (Istio's WatchedResource). */
export interface WatchedResource {
  typeUrl: string;
  /** Subscribed to everything of this type (empty names on LDS/CDS, or `*`). */
  wildcard: boolean;
  /**
   * Names subscribed to explicitly. SotW: a set shared by every stream with the same
   * subscription (SubscriptionCache), replaced, never mutated; delta: the stream's own.
   */
  names: Set<string>;
  /**
   * SotW: `names` sorted, as one array shared by every stream with the same subscription (see
   * SubscriptionCache), so per-push caches can key on it by identity.
   */
  nameList?: readonly string[];
  /** SotW: the request name list `names` was last set from (the decoder reuses it when unchanged). */
  namesFrom?: readonly string[];
  nonceSent: string | undefined;
  versionSent: string | undefined;
  sentAt: number | undefined;
  nonceAcked: string | undefined;
  versionAcked: string | undefined;
  ackedAt: number | undefined;
  lastNack: NackRecord | undefined;
  /** When the push now in flight started (for pilot_proxy_convergence_time), by nonce. */
  pushStartedAt: Map<string, number>;
  /** Delta: the version of every resource the client has (name → content version). */
  resourceVersions: Map<string, string>;
  /** SotW: names and content versions of the last response, to skip resending an identical set. */
  sentSignature: string | undefined;
  /** The resources last sent (all the client has for SotW), for config_dump. */
  lastResources: SentResources;
}

export function newWatch(typeUrl: string): WatchedResource {
  return {
    typeUrl,
    wildcard: false,
    names: new Set(),
    nonceSent: undefined,
    versionSent: undefined,
    sentAt: undefined,
    nonceAcked: undefined,
    versionAcked: undefined,
    ackedAt: undefined,
    lastNack: undefined,
    sentSignature: undefined,
    pushStartedAt: new Map(),
    resourceVersions: new Map(),
    lastResources: new SentResources(),
  };
}

/**
 * One ADS stream (SotW or delta): the proxy, what it watches, what it was sent and acked.
 * The stream implementation provides `push`; the server, queue and debug endpoints use the rest.
 */
export interface XdsConnection {
  readonly conId: string;
  readonly proxy: ProxyInfo;
  readonly protocol: 'sotw' | 'delta';
  readonly peer: string;
  readonly connectedAt: number;
  readonly watched: ReadonlyMap<string, WatchedResource>;
  /**
   * Send the given types (all watched types when 'all') from this snapshot; with `partial`, only
   * the resources of its type that it picks changed since the previous snapshot.
   */
  push(snapshot: XdsSnapshot, types: readonly string[] | 'all', startedAt: number, partial?: PartialPush): Promise<void>;
  /** Close the stream (server shutdown). */
  close(): void;
}
