import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { parseProxyInfo, type ProxyInfo } from './proxy-info.ts';
import { newWatch, type WatchedResource, type XdsConnection } from './xds-connection.ts';
import type { XdsSnapshot } from './xds-snapshot.ts';
import type { DiscoveryResponseMessage } from './ads-service.ts';
import { encodeDiscoveryResponse, encodeResourceSet, type EncodedResourceSet } from './response-encoding.ts';
import { DECODE_OPTIONS } from './ads-service.ts';
import { WILDCARD_TYPES, generateEncoded, orderTypes, statusError, type StreamDeps } from './stream-deps.ts';
import { shortType } from './xds-metrics.ts';

/**
 * How long a response holds its share of the shared write budget while the client has not read
 * it. Past it the share is given back (the write stays pending): a slow or stuck client must not
 * stall everyone else. The stream is not closed — like istiod (PILOT_XDS_SEND_TIMEOUT off by
 * default), since streams multiplexed on one busy connection are slow through no fault of theirs.
 * Each stream has at most one response per type in flight, so what waits stays bounded.
 */
const BUDGET_HOLD_MS = 30_000;

interface DiscoveryRequest {
  versionInfo?: string;
  node?: { id?: string; metadata?: unknown; userAgentName?: string; userAgentVersion?: string };
  resourceNames?: string[];
  typeUrl?: string;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

/**
 * State-of-the-world ADS stream (Istio's shouldRespond): the first request names the node;
 * a request without nonce (or for a type we never sent) is a subscription; a nonce other than
 * the last one sent for the type is stale and ignored; error_detail is a NACK (recorded, no
 * resend); an ACK with a changed name set is a new subscription and gets a response.
 */
export class SotwStream implements XdsConnection {
  readonly protocol = 'sotw' as const;
  readonly peer: string;
  readonly connectedAt: number;
  readonly watched = new Map<string, WatchedResource>();
  private proxyInfo: ProxyInfo | undefined;
  private id = '';
  private readonly call: grpc.ServerDuplexStream<Buffer, DiscoveryResponseMessage | Buffer>;
  private readonly deps: StreamDeps;
  private readonly requestType: protobuf.Type;
  private closed = false;
  private readonly pendingWrites = new Set<() => void>();

  constructor(call: grpc.ServerDuplexStream<Buffer, DiscoveryResponseMessage | Buffer>, deps: StreamDeps) {
    this.call = call;
    this.deps = deps;
    this.peer = call.getPeer();
    this.connectedAt = deps.clock.now();
    this.requestType = deps.root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    call.on('data', (buf: Buffer) => this.onData(buf));
    call.on('end', () => this.finish());
    call.on('error', () => this.finish());
    call.on('cancelled', () => this.finish());
    call.on('close', () => this.finish());
  }

  get conId(): string {
    return this.id;
  }

  get proxy(): ProxyInfo {
    if (!this.proxyInfo) throw new Error('stream has no proxy yet');
    return this.proxyInfo;
  }

  private fail(code: grpc.status, details: string): void {
    if (this.closed) return;
    this.deps.log.warn({ peer: this.peer, proxy: this.proxyInfo?.id, details }, 'closing ADS stream on a bad request');
    this.call.emit('error', statusError(code, details));
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const settle of [...this.pendingWrites]) settle();
    if (this.proxyInfo) this.deps.unregister(this);
    if (!this.call.writableEnded) this.call.end();
  }

  close(): void {
    this.finish();
  }

  private onData(buf: Buffer): void {
    if (this.closed) return;
    let req: DiscoveryRequest;
    try {
      req = this.requestType.toObject(this.requestType.decode(buf), DECODE_OPTIONS) as DiscoveryRequest;
    } catch (err) {
      this.fail(grpc.status.INVALID_ARGUMENT, `malformed DiscoveryRequest: ${(err as Error).message}`);
      return;
    }
    if (!this.proxyInfo) {
      const parsed = parseProxyInfo(req.node);
      if (!parsed.ok) {
        this.fail(grpc.status.INVALID_ARGUMENT, parsed.message);
        return;
      }
      this.proxyInfo = parsed.proxy;
      this.id = this.deps.nextConnectionId(parsed.proxy);
      this.deps.register(this);
    }
    const typeUrl = req.typeUrl ?? '';
    if (typeUrl === '') {
      this.fail(grpc.status.INVALID_ARGUMENT, 'DiscoveryRequest.type_url is required on an aggregated stream');
      return;
    }
    if (this.shouldRespond(typeUrl, req)) {
      void this.pushTypes(this.deps.currentSnapshot(), [typeUrl], this.deps.clock.now(), false);
    }
  }

  /**
   * Apply a request's name set. Empty names mean wildcard on LDS/CDS (and the workload types);
   * on other types only when the stream starts that way (legacy wildcard, as load simulators
   * do) — Envoy empties its EDS/RDS names only to unsubscribe from everything.
   */
  private setSubscription(w: WatchedResource, names: readonly string[], first = false): boolean {
    const explicit = names.filter((n) => n !== '*');
    const legacy = names.length === 0 && (WILDCARD_TYPES.has(w.typeUrl) || first || (w.wildcard && w.names.size === 0));
    const wildcard = names.includes('*') || legacy;
    const changed = wildcard !== w.wildcard || explicit.length !== w.names.size || explicit.some((n) => !w.names.has(n));
    w.wildcard = wildcard;
    w.names = new Set(explicit);
    return changed;
  }

  private shouldRespond(typeUrl: string, req: DiscoveryRequest): boolean {
    const nonce = req.responseNonce ?? '';
    const names = req.resourceNames ?? [];
    let w = this.watched.get(typeUrl);
    if (nonce === '' || !w) {
      // A new subscription, or a reconnect that carries a nonce from a previous stream.
      const first = !w;
      if (!w) {
        w = newWatch(typeUrl);
        this.watched.set(typeUrl, w);
      }
      this.setSubscription(w, names, first);
      return true;
    }
    if (nonce !== w.nonceSent) {
      this.deps.log.debug({ proxy: this.proxy.id, typeUrl, nonce, expected: w.nonceSent }, 'ignoring stale nonce');
      return false;
    }
    const now = this.deps.clock.now();
    if (req.errorDetail && (req.errorDetail.message || req.errorDetail.code)) {
      w.lastNack = { nonce, version: w.versionSent ?? '', message: req.errorDetail.message ?? '', code: req.errorDetail.code ?? 0, at: now };
      this.deps.metrics.rejects.inc({ type: shortType(typeUrl) });
      this.deps.log.warn({ proxy: this.proxy.id, typeUrl, nonce, error: req.errorDetail.message }, 'proxy rejected (NACK) xDS resources');
      w.pushStartedAt.delete(nonce);
      return false;
    }
    w.nonceAcked = nonce;
    w.versionAcked = req.versionInfo ?? w.versionSent;
    w.ackedAt = now;
    const started = w.pushStartedAt.get(nonce);
    if (started !== undefined) {
      this.deps.metrics.convergence.observe(Math.max(0, now - started) / 1000);
      w.pushStartedAt.clear();
    }
    return this.setSubscription(w, names);
  }

  push(snapshot: XdsSnapshot, types: readonly string[] | 'all', startedAt: number): Promise<void> {
    const wanted = types === 'all' ? [...this.watched.keys()] : types.filter((t) => this.watched.has(t));
    return this.pushTypes(snapshot, orderTypes(wanted), startedAt, true);
  }

  /**
   * Send the given types. Server-initiated pushes (`skipUnchanged`) leave out a type whose
   * resources are exactly those last sent (same names, same content versions): the proxy has
   * them already, so a VirtualService edit sends RDS, not every cluster again.
   */
  private async pushTypes(snapshot: XdsSnapshot, types: readonly string[], startedAt: number, skipUnchanged: boolean): Promise<void> {
    for (const typeUrl of types) {
      if (this.closed) return;
      const w = this.watched.get(typeUrl);
      if (!w) continue;
      const t0 = process.hrtime.bigint();
      const names = w.wildcard ? undefined : [...w.names];
      const set = generateEncoded(this.deps, this.proxy, snapshot, typeUrl, names);
      if (!set) continue;
      if (skipUnchanged && set.signature === w.sentSignature) continue;
      const send = skipUnchanged ? changedOnly(typeUrl, set, w) : set;
      w.sentSignature = set.signature;
      const nonce = this.deps.nextNonce();
      const release = await this.deps.writeBudget.acquire(send.body.length);
      if (this.closed) {
        release();
        return;
      }
      const msg = encodeDiscoveryResponse(snapshot.version, typeUrl, nonce, this.deps.controlPlaneId, send);
      w.nonceSent = nonce;
      w.versionSent = snapshot.version;
      w.sentAt = this.deps.clock.now();
      w.pushStartedAt.set(nonce, startedAt);
      if (send === set) w.lastResources.replace(set);
      else for (const e of send.resources) w.lastResources.set(e);
      const type = shortType(typeUrl);
      this.deps.metrics.configSize.observe({ type }, send.size);
      await new Promise<void>((resolve) => {
        // grpc-js never calls back for a cancelled call: closing the stream settles it too.
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
      this.deps.metrics.pushes.inc({ type });
      this.deps.metrics.pushTime.observe({ type }, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
}

/**
 * For types Envoy tracks resource by resource (EDS, RDS: not LDS/CDS, where a response is the
 * whole set), a push may carry only the resources whose content changed, as istiod does for
 * incremental EDS. Falls back to the full set when a resource went away or most changed.
 */
function changedOnly(typeUrl: string, set: EncodedResourceSet, w: WatchedResource): EncodedResourceSet {
  if (WILDCARD_TYPES.has(typeUrl) || w.nonceSent === undefined || w.lastResources.size === 0) return set;
  // After a NACK the client kept older resources than those we sent: resend everything.
  if (w.lastNack !== undefined && w.lastNack.nonce === w.nonceSent) return set;
  const changed = [];
  let matched = 0;
  for (const e of set.resources) {
    const prev = w.lastResources.get(e.name);
    if (prev) matched++;
    if (prev?.version !== e.version) changed.push(e);
  }
  // A resource the client has is no longer there: send the full set.
  if (matched < w.lastResources.size) return set;
  if (changed.length * 2 > set.resources.length) return set;
  return encodeResourceSet(typeUrl, changed);
}
