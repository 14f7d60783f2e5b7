import type { GrpcServerStream } from '../../lib/grpc-wire/grpc-server-stream.ts';
import { AdsStream } from './ads-stream.ts';
import { DiscoveryRequestDecoder, type DiscoveryRequest } from './discovery-request-decoder.ts';
import { newWatch, type WatchedResource } from './xds-connection.ts';
import type { XdsSnapshot } from './xds-snapshot.ts';
import { encodeDiscoveryResponse, encodeResourceSet, type EncodedResourceSet } from './response-encoding.ts';
import type { SentResources } from './sent-resources.ts';
import { WILDCARD_TYPES, generateEncoded, orderTypes, type StreamDeps } from './stream-deps.ts';
import { shortType } from './xds-metrics.ts';
import type { PartialPush } from './partial-push.ts';


/**
 * State-of-the-world ADS stream (Istio's shouldRespond): the first request names the node;
 * a request without nonce (or for a type we never sent) is a subscription; a nonce other than
 * the last one sent for the type is stale and ignored; error_detail is a NACK (recorded, no
 * resend); an ACK with a changed name set is a new subscription and gets a response.
 */
export class SotwStream extends AdsStream<DiscoveryRequest> {
  readonly protocol = 'sotw' as const;
  private readonly decoder: DiscoveryRequestDecoder;

  constructor(call: GrpcServerStream, deps: StreamDeps) {
    super(call, deps, 'DiscoveryRequest');
    this.decoder = new DiscoveryRequestDecoder(deps.root, deps.subscriptions);
  }

  protected override decode(buf: Buffer): DiscoveryRequest {
    return this.decoder.decode(buf);
  }

  protected onRequest(typeUrl: string, req: DiscoveryRequest): void {
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
    // The decoder hands back the very array of the last request when its names' bytes are the
    // same (an ACK repeating a large subscription): nothing to compare.
    if (!first && names === w.namesFrom) return false;
    w.namesFrom = names;
    // Shared by every stream that sent the same names (see SubscriptionCache).
    const sub = this.deps.subscriptions.subscription(names);
    const legacy = names.length === 0 && (WILDCARD_TYPES.has(w.typeUrl) || first || (w.wildcard && w.names.size === 0));
    const wildcard = sub.star || legacy;
    const sameNames = sub.nameList === w.nameList || (sub.explicit.size === w.names.size && [...sub.explicit].every((n) => w.names.has(n)));
    if (wildcard === w.wildcard && sameNames) return false;
    w.wildcard = wildcard;
    w.names = sub.explicit;
    w.nameList = wildcard ? undefined : sub.nameList;
    return true;
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

  push(snapshot: XdsSnapshot, types: readonly string[] | 'all', startedAt: number, partial?: PartialPush): Promise<void> {
    const wanted = types === 'all' ? [...this.watched.keys()] : types.filter((t) => this.watched.has(t));
    return this.pushTypes(snapshot, orderTypes(wanted), startedAt, true, partial);
  }

  /**
   * Send the given types. Server-initiated pushes (`skipUnchanged`) leave out a type whose
   * resources are exactly those last sent (same names, same content versions): the proxy has
   * them already, so a VirtualService edit sends RDS, not every cluster again.
   */
  private async pushTypes(snapshot: XdsSnapshot, types: readonly string[], startedAt: number, skipUnchanged: boolean, partial?: PartialPush): Promise<void> {
    for (const typeUrl of types) {
      if (this.closed) return;
      const w = this.watched.get(typeUrl);
      if (!w) continue;
      const t0 = process.hrtime.bigint();
      const names = w.wildcard ? undefined : (w.nameList ??= this.deps.subscriptions.intern(w.names));
      const picked = partial?.typeUrl === typeUrl && skipUnchanged && names !== undefined && holdsLastSet(w) ? partial.pick(this.proxy, names) : undefined;
      if (picked !== undefined) {
        if (!(await this.pushPart(snapshot, w, picked, startedAt, t0))) return;
        continue;
      }
      const set = generateEncoded(this.deps, this.proxy, snapshot, typeUrl, names);
      if (!set) continue;
      if (skipUnchanged && set.signature === w.sentSignature) continue;
      const send = skipUnchanged ? changedOnly(typeUrl, set, w) : set;
      w.sentSignature = set.signature;
      const type = shortType(typeUrl);
      const written = await this.write(send.body.length, () => {
        const msg = this.encodeSent(snapshot, w, send, startedAt);
        // A changed-only response leaves the client with exactly `set` too (changedOnly sends
        // every resource it lacks or has in another version, and falls back when one went away).
        w.lastResources.replace(set);
        return msg;
      });
      if (!written) return;
      if (skipUnchanged) this.deps.metrics.lastWrite.set({ type }, Math.max(0, this.deps.clock.now() - startedAt) / 1000);
      this.deps.metrics.pushes.inc({ type });
      this.deps.metrics.pushTime.observe({ type }, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  /** Encode a response to `w` under a new nonce and record it as sent (nonce, version, time, size). */
  private encodeSent(snapshot: XdsSnapshot, w: WatchedResource, send: EncodedResourceSet, startedAt: number): [Uint8Array, Uint8Array, Uint8Array] {
    const nonce = this.deps.nextNonce();
    const msg = encodeDiscoveryResponse(snapshot.version, w.typeUrl, nonce, this.deps.controlPlaneId, send);
    w.nonceSent = nonce;
    w.versionSent = snapshot.version;
    w.sentAt = this.deps.clock.now();
    w.pushStartedAt.set(nonce, startedAt);
    this.deps.metrics.configSize.observe({ type: shortType(w.typeUrl) }, send.size);
    return msg;
  }

  /**
   * A partial push (Istio's incremental EDS): generate only the picked names and send those whose
   * content changed; the client keeps the rest. False when the stream closed meanwhile.
   */
  private async pushPart(snapshot: XdsSnapshot, w: WatchedResource, picked: readonly string[], startedAt: number, t0: bigint): Promise<boolean> {
    if (picked.length === 0) return true;
    const typeUrl = w.typeUrl;
    const part = generateEncoded(this.deps, this.proxy, snapshot, typeUrl, picked);
    if (!part) return true;
    const send = changedIn(typeUrl, part, w.lastResources);
    if (!send) return true;
    const type = shortType(typeUrl);
    const written = await this.write(send.body.length, () => {
      const msg = this.encodeSent(snapshot, w, send, startedAt);
      for (const e of send.resources) w.lastResources.set(e);
      // The client's set is no longer one generated set: the next full push compares by resource.
      w.sentSignature = undefined;
      return msg;
    });
    if (!written) return false;
    this.deps.metrics.lastWrite.set({ type }, Math.max(0, this.deps.clock.now() - startedAt) / 1000);
    this.deps.metrics.pushes.inc({ type });
    this.deps.metrics.pushTime.observe({ type }, Number(process.hrtime.bigint() - t0) / 1e9);
    return true;
  }
}

/**
 * Does the client hold what it was last sent of a per-resource type (so a partial push can
 * build on it)? Not before a first response, not after a NACK of the last one.
 */
function holdsLastSet(w: WatchedResource): boolean {
  if (WILDCARD_TYPES.has(w.typeUrl) || w.nonceSent === undefined || w.lastResources.size === 0) return false;
  return w.lastNack === undefined || w.lastNack.nonce !== w.nonceSent;
}

/** The resources of `part` the client lacks or has in another version (the set itself when all), or undefined when none. */
function changedIn(typeUrl: string, part: EncodedResourceSet, last: SentResources): EncodedResourceSet | undefined {
  const changed = part.resources.filter((e) => last.get(e.name)?.version !== e.version);
  if (changed.length === 0) return undefined;
  return changed.length === part.resources.length ? part : encodeResourceSet(typeUrl, changed);
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
  // Proxies that had the same set get the same answer: compute it once per (old set, new set).
  const from = w.lastResources.exactSet;
  if (from === undefined) return diff(typeUrl, set, w.lastResources);
  const memo = (set.changedSince ??= new WeakMap());
  let out = memo.get(from);
  if (out === undefined) {
    out = diff(typeUrl, set, w.lastResources);
    memo.set(from, out);
  }
  return out;
}

function diff(typeUrl: string, set: EncodedResourceSet, last: SentResources): EncodedResourceSet {
  const changed = [];
  let matched = 0;
  for (const e of set.resources) {
    const prev = last.get(e.name);
    if (prev) matched++;
    if (prev?.version !== e.version) changed.push(e);
  }
  // A resource the client has is no longer there: send the full set.
  if (matched < last.size) return set;
  if (changed.length * 2 > set.resources.length) return set;
  return encodeResourceSet(typeUrl, changed);
}
