import type protobuf from 'protobufjs';
import type { GrpcServerStream } from '../../lib/grpc-wire/grpc-server-stream.ts';
import { GrpcStatus } from '../../lib/grpc-wire/grpc-status.ts';
import { parseProxyInfo, type ProxyInfo } from './proxy-info.ts';
import type { WatchedResource, XdsConnection } from './xds-connection.ts';
import type { XdsSnapshot } from './xds-snapshot.ts';
import type { PartialPush } from './partial-push.ts';
import { DECODE_OPTIONS } from './ads-service.ts';
import type { StreamDeps } from './stream-deps.ts';

/**
 * How long a response holds its share of the shared write budget while the client has not read
 * it. Past it the share is given back (the write stays pending): a slow or stuck client must not
 * stall everyone else. The stream is not closed — like istiod (PILOT_XDS_SEND_TIMEOUT off by
 * default), since streams multiplexed on one busy connection are slow through no fault of theirs.
 * Each stream has at most one response per type in flight, so what waits stays bounded.
 */
const BUDGET_HOLD_MS = 30_000;

/** What both protocols' requests carry before their own fields. */
export interface AdsRequestHead {
  node?: { id?: string; metadata?: unknown; userAgentName?: string; userAgentVersion?: string };
  typeUrl?: string;
}

/**
 * What SotW and delta ADS streams share: the gRPC call's lifecycle, decoding requests (a
 * malformed one ends only this stream, with INVALID_ARGUMENT), identifying the proxy from the
 * first request's node, and writing responses under the shared write budget. Subclasses own the
 * protocol state machine (`onRequest`) and what to send (`push`).
 */
export abstract class AdsStream<Req extends AdsRequestHead> implements XdsConnection {
  abstract readonly protocol: 'sotw' | 'delta';
  readonly peer: string;
  readonly connectedAt: number;
  readonly watched = new Map<string, WatchedResource>();
  protected readonly deps: StreamDeps;
  protected closed = false;
  private proxyInfo: ProxyInfo | undefined;
  private id = '';
  private readonly call: GrpcServerStream;
  private readonly requestType: protobuf.Type;
  private readonly requestName: string;
  private readonly pendingWrites = new Set<() => void>();

  constructor(call: GrpcServerStream, deps: StreamDeps, requestName: 'DiscoveryRequest' | 'DeltaDiscoveryRequest') {
    this.call = call;
    this.deps = deps;
    this.requestName = requestName;
    this.peer = call.peer.address;
    this.connectedAt = deps.clock.now();
    this.requestType = deps.root.lookupType(`envoy.service.discovery.v3.${requestName}`);
    call.on('message', (buf: Buffer) => this.onData(buf));
    // The client half-closed, cancelled or went away: the stream is over.
    call.on('end', () => this.finish());
    call.on('close', () => this.finish());
  }

  get conId(): string {
    return this.id;
  }

  get proxy(): ProxyInfo {
    if (!this.proxyInfo) throw new Error('stream has no proxy yet');
    return this.proxyInfo;
  }

  close(): void {
    this.finish();
  }

  abstract push(snapshot: XdsSnapshot, types: readonly string[] | 'all', startedAt: number, partial?: PartialPush): Promise<void>;

  /** Decode one request (throws on malformed input). */
  protected decode(buf: Buffer): Req {
    return this.requestType.toObject(this.requestType.decode(buf), DECODE_OPTIONS) as Req;
  }

  /** Handle one well-formed request for `typeUrl` from an identified proxy. */
  protected abstract onRequest(typeUrl: string, req: Req): void;

  /**
   * Write one response of `bytes` under the shared write budget. `prepare` runs once the budget
   * is granted (and only if the stream is still open) and returns the message as a list of parts
   * (written in order without joining them: a body shared by many proxies is never copied); the
   * promise settles when HTTP/2 has flushed the message or the stream closed; false when the
   * stream closed before anything was written.
   */
  protected async write(bytes: number, prepare: () => readonly Uint8Array[]): Promise<boolean> {
    const release = await this.deps.writeBudget.acquire(bytes);
    if (this.closed) {
      release();
      return false;
    }
    const msg = prepare();
    await new Promise<void>((resolve) => {
      // Closing the stream settles it too (whatever the transport does with pending callbacks).
      const settle = (): void => {
        timer.cancel();
        this.pendingWrites.delete(settle);
        release();
        resolve();
      };
      const timer = this.deps.clock.setTimer(release, BUDGET_HOLD_MS);
      this.pendingWrites.add(settle);
      this.call.write(msg, settle);
    });
    return true;
  }

  private fail(code: number, details: string): void {
    if (this.closed) return;
    this.deps.log.warn({ peer: this.peer, proxy: this.proxyInfo?.id, details }, `closing ADS stream on a bad ${this.requestName}`);
    this.call.end(code, details);
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const settle of [...this.pendingWrites]) settle();
    if (this.proxyInfo) this.deps.unregister(this);
    this.call.end();
  }

  private onData(buf: Buffer): void {
    if (this.closed) return;
    let req: Req;
    try {
      req = this.decode(buf);
    } catch (err) {
      this.fail(GrpcStatus.INVALID_ARGUMENT, `malformed ${this.requestName}: ${(err as Error).message}`);
      return;
    }
    if (!this.proxyInfo) {
      const parsed = parseProxyInfo(req.node);
      if (!parsed.ok) {
        this.fail(GrpcStatus.INVALID_ARGUMENT, parsed.message);
        return;
      }
      this.proxyInfo = parsed.proxy;
      this.id = this.deps.nextConnectionId(parsed.proxy);
      this.deps.register(this);
    }
    const typeUrl = req.typeUrl ?? '';
    if (typeUrl === '') {
      this.fail(GrpcStatus.INVALID_ARGUMENT, `${this.requestName}.type_url is required on an aggregated stream`);
      return;
    }
    this.onRequest(typeUrl, req);
  }
}
