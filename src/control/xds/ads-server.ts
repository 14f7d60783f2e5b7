import type { GrpcServer } from '../../lib/grpc-wire/grpc-server.ts';
import type { GrpcServerStream } from '../../lib/grpc-wire/grpc-server-stream.ts';
import type protobuf from 'protobufjs';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { errorMessage } from '../../lib/errors.ts';
import { PushQueue } from '../push/push-queue.ts';
import { ADS_DELTA_PATH, ADS_SOTW_PATH } from './ads-service.ts';
import { ConnectionRegistry } from './connection-registry.ts';
import { SubscriptionCache } from './subscription-cache.ts';
import { NameInterner } from './name-interner.ts';
import { DeltaStream } from './delta-stream.ts';
import type { ProxyInfo } from './proxy-info.ts';
import { ResourceEncoder } from './resource-encoder.ts';
import { SotwStream } from './sotw-stream.ts';
import { mergePartialPushes, type PartialPush } from './partial-push.ts';
import type { StreamDeps } from './stream-deps.ts';
import type { XdsConnection } from './xds-connection.ts';
import type { XdsMetrics } from './xds-metrics.ts';
import { WriteBudget } from './write-budget.ts';
import { emptySnapshot, type XdsSnapshot } from './xds-snapshot.ts';

export interface AdsServerOptions {
  root: protobuf.Root;
  metrics: XdsMetrics;
  clock: Clock;
  log: Logger;
  /** Connections pushed at once (Istio's PILOT_PUSH_THROTTLE). Default 100. */
  pushConcurrency?: number;
  /** control_plane.identifier in responses. */
  controlPlaneId?: string;
  initialSnapshot?: XdsSnapshot;
  /** Response bytes handed to HTTP/2 and not yet flushed, across all streams (default 128 MiB). */
  writeBudgetBytes?: number;
}

/** Which types a push sends to one proxy: 'all' watched types, a list, or undefined (skip it). */
export type PushSelector = (proxy: ProxyInfo) => readonly string[] | 'all' | undefined;

interface QueuedPush {
  types: Set<string> | 'all';
  snapshot: XdsSnapshot;
  startedAt: number;
  /** Only some resources of one type changed since the previous snapshot (see PartialPush). */
  partial: PartialPush | undefined;
}

/**
 * The ADS server ("how to send"): gRPC stream handlers for SotW and delta streams, the connection
 * registry, the shared resource encoder and the push queue. What to send comes from the current
 * XdsSnapshot, replaced on every push.
 */
export class AdsServer {
  readonly connections: ConnectionRegistry;
  readonly encoder: ResourceEncoder;
  private readonly options: AdsServerOptions;
  private readonly queue: PushQueue<XdsConnection, QueuedPush>;
  private snapshot: XdsSnapshot;
  private nonceCounter = 0;
  private conCounter = 0;
  private readonly deps: StreamDeps;
  private readonly streams = new Set<SotwStream | DeltaStream>();

  constructor(options: AdsServerOptions) {
    this.options = options;
    this.snapshot = options.initialSnapshot ?? emptySnapshot();
    this.connections = new ConnectionRegistry(options.metrics);
    this.encoder = new ResourceEncoder(options.root);
    this.queue = new PushQueue<XdsConnection, QueuedPush>({
      concurrency: options.pushConcurrency ?? 100,
      merge: (a, b) => ({
        types: a.types === 'all' || b.types === 'all' ? 'all' : new Set([...a.types, ...b.types]),
        snapshot: b.snapshot,
        startedAt: Math.min(a.startedAt, b.startedAt),
        partial: mergePartialPushes(a, b),
      }),
      process: (conn, req) => conn.push(req.snapshot, req.types === 'all' ? 'all' : [...req.types], req.startedAt, req.partial),
      onError: (conn, err) => options.log.error({ proxy: conn.proxy.id, err: errorMessage(err) }, 'push failed'),
    });
    const prefix = Date.now().toString(36);
    const subscriptions = new SubscriptionCache(new NameInterner());
    this.deps = {
      root: options.root,
      encoder: this.encoder,
      writeBudget: new WriteBudget(options.writeBudgetBytes ?? 128 * 1024 * 1024),
      metrics: options.metrics,
      clock: options.clock,
      log: options.log,
      controlPlaneId: options.controlPlaneId ?? 'mizzen-discovery',
      currentSnapshot: () => this.snapshot,
      nextNonce: () => `${prefix}-${(++this.nonceCounter).toString(36)}`,
      nextConnectionId: (proxy) => `${proxy.id}-${++this.conCounter}`,
      subscriptions,
      register: (conn) => {
        this.connections.add(conn);
        options.log.info({ proxy: conn.proxy.id, conId: conn.conId, protocol: conn.protocol, peer: conn.peer }, 'ADS stream connected');
      },
      unregister: (conn) => {
        this.connections.remove(conn);
        this.queue.remove(conn);
        options.log.info({ proxy: conn.proxy.id, conId: conn.conId }, 'ADS stream closed');
      },
    };
  }

  /** Add the AggregatedDiscoveryService (SotW and delta) to a gRPC server. */
  addToServer(server: GrpcServer): void {
    // SotW requests are decoded as they arrive and nothing keeps their bytes (the decoder copies
    // the names it compares later): an ACK repeating 40 KB of EDS names needs no buffer of its own.
    server.addStream(ADS_SOTW_PATH, (call) => this.track(new SotwStream(call, this.deps), call), { transientMessages: true });
    server.addStream(ADS_DELTA_PATH, (call) => this.track(new DeltaStream(call, this.deps), call));
  }

  private track(s: SotwStream | DeltaStream, call: GrpcServerStream): void {
    this.streams.add(s);
    call.on('close', () => void this.streams.delete(s));
  }

  currentSnapshot(): XdsSnapshot {
    return this.snapshot;
  }

  /**
   * Make `snapshot` current and queue a push of the selected types to every connection the
   * selector picks. `startedAt` is when the change that caused it happened (convergence metric).
   * `partial`: what changed since the previous snapshot is only some resources of one type.
   */
  push(snapshot: XdsSnapshot, select: PushSelector, startedAt: number = this.options.clock.now(), partial?: PartialPush): number {
    this.snapshot = snapshot;
    let queued = 0;
    for (const conn of this.connections.list()) {
      const types = select(conn.proxy);
      if (types === undefined || (types !== 'all' && types.length === 0)) continue;
      this.queue.enqueue(conn, { types: types === 'all' ? 'all' : new Set(types), snapshot, startedAt, partial });
      queued++;
    }
    return queued;
  }

  /** Replace the snapshot without pushing (e.g. nothing anyone watches changed). */
  setSnapshot(snapshot: XdsSnapshot): void {
    this.snapshot = snapshot;
  }

  /** Resolves when the push queue is empty and nothing is in flight. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  close(): void {
    this.queue.close();
    for (const s of this.streams) s.close();
    this.streams.clear();
  }
}
