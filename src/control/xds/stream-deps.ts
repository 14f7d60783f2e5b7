import type protobuf from 'protobufjs';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { ResourceEncoder } from './resource-encoder.ts';
import type { WriteBudget } from './write-budget.ts';
import type { EncodedResourceSet } from './response-encoding.ts';
import type { XdsMetrics } from './xds-metrics.ts';
import type { XdsSnapshot } from './xds-snapshot.ts';
import type { XdsConnection } from './xds-connection.ts';
import type { SubscriptionCache } from './subscription-cache.ts';
import { TYPE_URL, PUSH_ORDER } from '../../api/xds/type-urls.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { ProxyInfo } from './proxy-info.ts';

/** What a stream needs from the server that owns it. */
export interface StreamDeps {
  root: protobuf.Root;
  encoder: ResourceEncoder;
  /** Shared bound on response bytes handed to gRPC and not yet flushed. */
  writeBudget: WriteBudget;
  metrics: XdsMetrics;
  clock: Clock;
  log: Logger;
  controlPlaneId: string;
  currentSnapshot(): XdsSnapshot;
  nextNonce(): string;
  nextConnectionId(proxy: ProxyInfo): string;
  /** SotW subscriptions shared across streams; interns name sets (see SubscriptionCache, NameInterner). */
  subscriptions: SubscriptionCache;
  register(conn: XdsConnection): void;
  unregister(conn: XdsConnection): void;
}

/** Types a client may subscribe to with no names (everything it should see). */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([TYPE_URL.listener, TYPE_URL.cluster, TYPE_URL.workloadAddress, TYPE_URL.authorization, TYPE_URL.nameTable]);

/** Order types the way Envoy wants them (CDS, EDS, LDS, RDS, then the rest). */
export function orderTypes(types: Iterable<string>): string[] {
  const rank = (t: string): number => {
    const i = PUSH_ORDER.indexOf(t);
    return i < 0 ? PUSH_ORDER.length : i;
  };
  return [...types].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Generate and encode one type for one proxy; on a generator or encoding failure, logs, counts
 * an internal error and returns undefined so the proxy keeps what it has.
 */
export function generateEncoded(
  deps: StreamDeps,
  proxy: ProxyInfo,
  snapshot: XdsSnapshot,
  typeUrl: string,
  names: readonly string[] | undefined,
): EncodedResourceSet | undefined {
  try {
    return deps.encoder.encodeList(typeUrl, snapshot.generate(proxy, typeUrl, names), names);
  } catch (err) {
    deps.metrics.internalErrors.inc();
    deps.log.error({ proxy: proxy.id, typeUrl, err: errorMessage(err) }, 'generating xDS resources failed; proxy keeps its previous config');
    return undefined;
  }
}
