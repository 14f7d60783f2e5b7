import type { GrpcServerStream } from '../../lib/grpc-wire/grpc-server-stream.ts';
import type protobuf from 'protobufjs';
import { AdsStream, type AdsRequestHead } from './ads-stream.ts';
import { newWatch } from './xds-connection.ts';
import type { XdsSnapshot } from './xds-snapshot.ts';
import type { DeltaDiscoveryResponseMessage } from './ads-service.ts';
import { WILDCARD_TYPES, generateEncoded, orderTypes, type StreamDeps } from './stream-deps.ts';
import { shortType } from './xds-metrics.ts';

interface DeltaDiscoveryRequest extends AdsRequestHead {
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

interface SentDelta {
  version: string;
  startedAt: number;
}

/** Nonces kept per type while waiting for their ACK (older ones count as stale). */
const MAX_OUTSTANDING = 32;

/**
 * Incremental (delta) ADS stream: per-resource versions (content hashes), subscribe and
 * unsubscribe, `*` wildcard (and the legacy empty first subscribe on LDS/CDS),
 * initial_resource_versions on reconnect, removed_resources for what went away; ACK/NACK by nonce.
 */
export class DeltaStream extends AdsStream<DeltaDiscoveryRequest> {
  readonly protocol = 'delta' as const;
  private readonly outstanding = new Map<string, Map<string, SentDelta>>();
  private readonly responseType: protobuf.Type;

  constructor(call: GrpcServerStream, deps: StreamDeps) {
    super(call, deps, 'DeltaDiscoveryRequest');
    this.responseType = deps.root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  }

  protected onRequest(typeUrl: string, req: DeltaDiscoveryRequest): void {
    const respond = this.handle(typeUrl, req);
    if (respond) void this.pushTypes(this.deps.currentSnapshot(), [typeUrl], this.deps.clock.now(), respond.forced);
  }

  /** Apply one request; returns what to (re)send, or undefined for nothing. */
  private handle(typeUrl: string, req: DeltaDiscoveryRequest): { forced: ReadonlySet<string> } | undefined {
    const nonce = req.responseNonce ?? '';
    let w = this.watched.get(typeUrl);
    const first = !w;
    if (!w) {
      w = newWatch(typeUrl);
      this.watched.set(typeUrl, w);
      for (const [name, version] of Object.entries(req.initialResourceVersions ?? {})) {
        w.resourceVersions.set(name, version);
      }
    }
    if (nonce !== '') {
      const sent = this.outstanding.get(typeUrl)?.get(nonce);
      if (!sent) {
        this.deps.log.debug({ proxy: this.proxy.id, typeUrl, nonce }, 'ignoring stale delta nonce');
      } else {
        this.outstanding.get(typeUrl)?.delete(nonce);
        const now = this.deps.clock.now();
        if (req.errorDetail && (req.errorDetail.message || req.errorDetail.code)) {
          w.lastNack = { nonce, version: sent.version, message: req.errorDetail.message ?? '', code: req.errorDetail.code ?? 0, at: now };
          this.deps.metrics.rejects.inc({ type: shortType(typeUrl) });
          this.deps.log.warn({ proxy: this.proxy.id, typeUrl, nonce, error: req.errorDetail.message }, 'proxy rejected (NACK) delta xDS resources');
        } else {
          w.nonceAcked = nonce;
          w.versionAcked = sent.version;
          w.ackedAt = now;
          this.deps.metrics.convergence.observe(Math.max(0, now - sent.startedAt) / 1000);
        }
      }
    }
    const subscribe = req.resourceNamesSubscribe ?? [];
    const unsubscribe = req.resourceNamesUnsubscribe ?? [];
    const forced = new Set<string>();
    if (first && subscribe.length === 0 && WILDCARD_TYPES.has(typeUrl)) w.wildcard = true;
    for (const name of subscribe) {
      if (name === '*') {
        w.wildcard = true;
        continue;
      }
      if (!w.names.has(name)) forced.add(name);
      w.names.add(name);
    }
    for (const name of unsubscribe) {
      if (name === '*') {
        w.wildcard = false;
        continue;
      }
      w.names.delete(name);
      w.resourceVersions.delete(name);
      w.lastResources.delete(name);
    }
    if (first || forced.size > 0 || subscribe.includes('*') || unsubscribe.includes('*')) return { forced };
    return undefined;
  }

  push(snapshot: XdsSnapshot, types: readonly string[] | 'all', startedAt: number): Promise<void> {
    const wanted = types === 'all' ? [...this.watched.keys()] : types.filter((t) => this.watched.has(t));
    return this.pushTypes(snapshot, orderTypes(wanted), startedAt, new Set());
  }

  private async pushTypes(snapshot: XdsSnapshot, types: readonly string[], startedAt: number, forced: ReadonlySet<string>): Promise<void> {
    for (const typeUrl of types) {
      if (this.closed) return;
      const w = this.watched.get(typeUrl);
      if (!w) continue;
      const t0 = process.hrtime.bigint();
      const set = generateEncoded(this.deps, this.proxy, snapshot, typeUrl, w.wildcard ? undefined : [...w.names]);
      if (!set) continue;
      const encoded = set.resources;
      const present = new Set<string>();
      const changed = [];
      for (const e of encoded) {
        present.add(e.name);
        for (const a of e.aliases ?? []) present.add(a);
        // An alias the client subscribed to just now is answered even when it has the resource
        // (the client learns which resource the alias names).
        if (w.resourceVersions.get(e.name) !== e.version || e.aliases?.some((a) => forced.has(a))) changed.push(e);
      }
      const removed: string[] = [];
      for (const name of w.resourceVersions.keys()) {
        if (!present.has(name) && (w.wildcard || w.names.has(name))) removed.push(name);
      }
      // Tell a client that just subscribed to a name we do not have that it does not exist.
      for (const name of forced) if (!present.has(name) && !removed.includes(name)) removed.push(name);
      if (changed.length === 0 && removed.length === 0 && forced.size === 0 && w.nonceSent !== undefined) continue;
      for (const e of changed) {
        w.resourceVersions.set(e.name, e.version);
        w.lastResources.set(e);
        // On-demand: what was sent for a subscribed alias or implied by one is now followed by name.
        if (!w.wildcard) w.names.add(e.name);
      }
      for (const name of removed) {
        w.resourceVersions.delete(name);
        w.lastResources.delete(name);
      }
      const nonce = this.deps.nextNonce();
      const msg: DeltaDiscoveryResponseMessage = {
        systemVersionInfo: snapshot.version,
        resources: changed.map((e) => ({ name: e.name, version: e.version, ...(e.aliases ? { aliases: e.aliases } : {}), resource: { type_url: typeUrl, value: e.value } })),
        typeUrl,
        removedResources: removed,
        nonce,
        controlPlane: { identifier: this.deps.controlPlaneId },
      };
      let out = this.outstanding.get(typeUrl);
      if (!out) {
        out = new Map();
        this.outstanding.set(typeUrl, out);
      }
      out.set(nonce, { version: snapshot.version, startedAt });
      if (out.size > MAX_OUTSTANDING) out.delete(out.keys().next().value as string);
      w.nonceSent = nonce;
      w.versionSent = snapshot.version;
      w.sentAt = this.deps.clock.now();
      const type = shortType(typeUrl);
      let bytes = 0;
      for (const e of changed) bytes += e.value.length;
      if (!(await this.write(bytes, () => [this.responseType.encode(msg).finish()]))) return;
      this.deps.metrics.pushes.inc({ type });
      this.deps.metrics.pushTime.observe({ type }, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
}
