import type protobuf from 'protobufjs';
import { GrpcChannel, type GrpcTlsOptions } from '../../lib/grpc-wire/grpc-channel.ts';
import type { GrpcClientStream, CallMetadataSource, GrpcStreamStatus } from '../../lib/grpc-wire/grpc-client-stream.ts';
import { GrpcStatus } from '../../lib/grpc-wire/grpc-status.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { EnvoyCodec, EnvoyObject } from './envoy-codec.ts';

/** One resource as received: its name, version (delta) and decoded body. */
export interface ReceivedResource {
  name: string;
  version: string;
  resource: EnvoyObject;
}

/** One response for one type URL, decoded. `stateOfTheWorld` means absent names were removed. */
export interface XdsUpdate {
  typeUrl: string;
  versionInfo: string;
  resources: ReceivedResource[];
  removed: string[];
  stateOfTheWorld: boolean;
}

/**
 * Where decoded resources go. `apply` validates and applies atomically, returning undefined
 * (ACK) or the NACK message naming the resource and field; on NACK nothing changed.
 * `subscriptions` names what the proxy wants for non-wildcard types (EDS/RDS/SDS).
 */
export interface XdsResourceSink {
  apply(update: XdsUpdate): string | undefined;
  subscriptions(typeUrl: string): readonly string[];
}

/**
 * How the proxy reaches discovery: plaintext (15010) when `tls` is omitted, else TLS verified
 * against the mesh root with Istio's server name (15012); `metadata` is sent on every stream
 * (e.g. the service-account JWT, re-read per connection).
 */
export interface XdsTransport {
  tls?: GrpcTlsOptions;
  /** :authority (default: the TLS server name, else the target). */
  authority?: string;
  metadata?: CallMetadataSource;
}

export interface AdsClientOptions {
  target: string;
  node: EnvoyObject;
  codec: EnvoyCodec;
  sink: XdsResourceSink;
  clock: Clock;
  log: Logger;
  protocol?: 'delta' | 'sotw';
  transport?: XdsTransport;
  /** Further wildcard types to subscribe to after Envoy's (Istio's NDS name table, when DNS capture is on). */
  extraWildcardTypes?: readonly string[];
  /** Reconnect backoff: first delay and cap (ms). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Per-type status, for admin and tests. */
export interface XdsTypeStatus {
  acceptedVersion: string;
  lastNonce: string;
  acks: number;
  nacks: number;
  lastNack: string | undefined;
}

const WILDCARD = new Set<string>([TYPE_URL.cluster, TYPE_URL.listener]);
const SUBSCRIBED: readonly string[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret];
const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';

const NAME_FIELD: Record<string, string> = {
  [TYPE_URL.listener]: 'name',
  [TYPE_URL.route]: 'name',
  [TYPE_URL.cluster]: 'name',
  [TYPE_URL.endpoint]: 'clusterName',
  [TYPE_URL.secret]: 'name',
};

/** One ADS stream: the gRPC call and the request encoder of its protocol. */
interface Stream {
  call: GrpcClientStream | undefined;
  write(request: Record<string, unknown>): void;
}

/** Envoy's default for xDS: responses up to 256 MiB. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
const KEEPALIVE_MS = 30_000;

/**
 * Aggregated Discovery Service client over one gRPC stream: delta (preferred; falls back to
 * state-of-the-world when the server says UNIMPLEMENTED) or SotW. ACKs what the sink accepts,
 * NACKs (with error_detail) what it rejects, follows the sink's EDS/RDS/SDS subscriptions, and
 * reconnects with exponential backoff on the injected clock, keeping all applied config.
 */
export class AdsClient {
  private readonly opts: AdsClientOptions;
  private channel: GrpcChannel | undefined;
  private readonly reqType: protobuf.Type;
  private readonly respType: protobuf.Type;
  private readonly deltaReqType: protobuf.Type;
  private readonly deltaRespType: protobuf.Type;
  private protocol: 'delta' | 'sotw';
  private stream: Stream | undefined;
  private retryTimer: TimerHandle | undefined;
  private backoffMs: number;
  private closed = false;
  private sentNames = new Map<string, string[]>();
  private readonly wildcard: ReadonlySet<string>;
  private readonly subscribed: readonly string[];
  private versions = new Map<string, Map<string, string>>();
  readonly status = new Map<string, XdsTypeStatus>();
  connected = false;
  connects = 0;

  constructor(opts: AdsClientOptions) {
    this.opts = opts;
    this.protocol = opts.protocol ?? 'delta';
    this.backoffMs = opts.initialBackoffMs ?? 500;
    const t = (n: string): protobuf.Type => opts.codec.type(`envoy.service.discovery.v3.${n}`);
    this.reqType = t('DiscoveryRequest');
    this.respType = t('DiscoveryResponse');
    this.deltaReqType = t('DeltaDiscoveryRequest');
    this.deltaRespType = t('DeltaDiscoveryResponse');
    const extra = opts.extraWildcardTypes ?? [];
    this.wildcard = new Set([...WILDCARD, ...extra]);
    this.subscribed = [...SUBSCRIBED, ...extra];
    for (const tu of this.subscribed) this.status.set(tu, { acceptedVersion: '', lastNonce: '', acks: 0, nacks: 0, lastNack: undefined });
  }

  get activeProtocol(): 'delta' | 'sotw' {
    return this.protocol;
  }

  start(): void {
    this.closed = false;
    this.open();
  }

  close(): void {
    this.closed = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    const s = this.stream;
    this.stream = undefined;
    s?.call?.cancel();
    this.channel?.close();
    this.channel = undefined;
    this.connected = false;
  }

  /** Re-send subscriptions that changed (call after the sink applied something). */
  refreshSubscriptions(): void {
    if (!this.stream) return;
    for (const tu of this.subscribed) {
      if (this.wildcard.has(tu)) continue;
      this.subscribe(tu, false);
    }
  }

  private open(): void {
    if (this.closed) return;
    const delta = this.protocol === 'delta';
    const reqType = delta ? this.deltaReqType : this.reqType;
    const respType = delta ? this.deltaRespType : this.respType;
    const stream: Stream = {
      call: undefined,
      write: (o) => stream.call?.write(reqType.encode(reqType.fromObject(o)).finish()),
    };
    this.stream = stream;
    this.sentNames.clear();
    this.connects++;
    this.channel ??= new GrpcChannel({ target: this.opts.target, tls: this.opts.transport?.tls, authority: this.opts.transport?.authority, keepaliveMs: KEEPALIVE_MS });
    stream.call = this.channel.openStream(ADS + (delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources'), {
      metadata: this.opts.transport?.metadata,
      maxReceiveMessageBytes: MAX_RESPONSE_BYTES,
      onMessage: (bytes) => {
        if (this.stream !== stream) return;
        let msg: protobuf.Message;
        try {
          msg = respType.decode(bytes);
        } catch (err) {
          this.opts.log.warn({ err }, 'xds response could not be parsed; reconnecting');
          stream.call?.cancel();
          return;
        }
        if (!this.connected) {
          this.connected = true;
          this.backoffMs = this.opts.initialBackoffMs ?? 500;
        }
        try {
          if (delta) this.onDelta(msg);
          else this.onSotw(msg);
        } catch (err) {
          this.opts.log.error({ err }, 'xds response handling failed');
        }
      },
      onStatus: (st: GrpcStreamStatus) => {
        if (this.stream !== stream) return;
        if (st.code === GrpcStatus.UNIMPLEMENTED && delta) {
          this.opts.log.info('delta ADS not implemented by the server, using state of the world');
          this.protocol = 'sotw';
          this.backoffMs = 0;
        } else if (st.code !== GrpcStatus.OK && st.code !== GrpcStatus.CANCELLED) {
          this.opts.log.warn({ code: st.code, details: st.message }, 'xds stream failed (is discovery running?)');
        }
        this.lost(stream);
      },
    });
    // Wildcard types first (clusters before listeners), then whatever we already know we need.
    for (const tu of this.subscribed) this.subscribe(tu, true);
  }

  private lost(stream: Stream): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.connected = false;
    stream.call?.cancel();
    if (this.closed) return;
    const delay = this.backoffMs;
    const max = this.opts.maxBackoffMs ?? 30_000;
    this.backoffMs = Math.min(max, Math.max(this.opts.initialBackoffMs ?? 500, delay * 2));
    const jittered = delay === 0 ? 0 : delay / 2 + Math.random() * (delay / 2);
    this.retryTimer = this.opts.clock.setTimer(() => {
      this.retryTimer = undefined;
      this.open();
    }, jittered);
  }

  private subscribe(typeUrl: string, initial: boolean): void {
    const stream = this.stream;
    if (!stream) return;
    const wildcard = this.wildcard.has(typeUrl);
    const names = wildcard ? [] : [...this.opts.sink.subscriptions(typeUrl)].sort();
    const prev = this.sentNames.get(typeUrl);
    if (!wildcard && prev === undefined && names.length === 0) return; // nothing wanted yet
    if (!initial && prev !== undefined && prev.length === names.length && prev.every((n, i) => n === names[i])) return;
    this.sentNames.set(typeUrl, names);
    const node = this.opts.node;
    if (this.protocol === 'delta') {
      if (prev === undefined) {
        const known = this.versions.get(typeUrl);
        const initialResourceVersions: Record<string, string> = {};
        if (known) for (const [n, v] of known) if (wildcard || names.includes(n)) initialResourceVersions[n] = v;
        stream.write({ node, typeUrl, resourceNamesSubscribe: wildcard ? ['*'] : names, initialResourceVersions });
      } else {
        const add = names.filter((n) => !prev.includes(n));
        const drop = prev.filter((n) => !names.includes(n));
        stream.write({ node, typeUrl, resourceNamesSubscribe: add, resourceNamesUnsubscribe: drop });
      }
    } else {
      const st = this.status.get(typeUrl)!;
      stream.write({ node, typeUrl, resourceNames: names, versionInfo: st.acceptedVersion, responseNonce: prev === undefined ? '' : st.lastNonce });
    }
  }

  private onDelta(msg: protobuf.Message): void {
    const m = msg as unknown as {
      typeUrl: string; systemVersionInfo: string; nonce: string; removedResources: string[];
      resources: { name: string; version: string; resource?: { typeUrl?: string; type_url?: string; value: Uint8Array } }[];
    };
    const typeUrl = m.typeUrl;
    const resources: ReceivedResource[] = [];
    let decodeError: string | undefined;
    for (const r of m.resources ?? []) {
      if (!r.resource) continue;
      try {
        resources.push({ name: r.name, version: r.version, resource: this.opts.codec.decode(typeUrl, r.resource.value) });
      } catch (err) {
        decodeError = `${r.name}: cannot decode ${typeUrl}: ${(err as Error).message}`;
      }
    }
    const update: XdsUpdate = { typeUrl, versionInfo: m.systemVersionInfo || m.nonce, resources, removed: m.removedResources ?? [], stateOfTheWorld: false };
    const error = decodeError ?? this.applyUpdate(update);
    if (!error) {
      let known = this.versions.get(typeUrl);
      if (!known) this.versions.set(typeUrl, (known = new Map()));
      for (const r of resources) known.set(r.name, r.version);
      for (const n of update.removed) known.delete(n);
    }
    this.stream?.write(error === undefined
      ? { node: this.opts.node, typeUrl, responseNonce: m.nonce }
      : { node: this.opts.node, typeUrl, responseNonce: m.nonce, errorDetail: { code: GrpcStatus.INVALID_ARGUMENT, message: error } });
    this.record(typeUrl, m.nonce, update.versionInfo, error);
    if (!error) this.refreshSubscriptions();
  }

  private onSotw(msg: protobuf.Message): void {
    const m = msg as unknown as { typeUrl: string; versionInfo: string; nonce: string; resources: { value: Uint8Array }[] };
    const typeUrl = m.typeUrl;
    const resources: ReceivedResource[] = [];
    let decodeError: string | undefined;
    const nameField = NAME_FIELD[typeUrl] ?? 'name';
    for (const a of m.resources ?? []) {
      try {
        const resource = this.opts.codec.decode(typeUrl, a.value);
        resources.push({ name: String(resource[nameField] ?? ''), version: m.versionInfo, resource });
      } catch (err) {
        decodeError = `cannot decode ${typeUrl}: ${(err as Error).message}`;
      }
    }
    const update: XdsUpdate = { typeUrl, versionInfo: m.versionInfo, resources, removed: [], stateOfTheWorld: this.wildcard.has(typeUrl) };
    const error = decodeError ?? this.applyUpdate(update);
    const st = this.status.get(typeUrl);
    if (st) st.lastNonce = m.nonce;
    this.record(typeUrl, m.nonce, m.versionInfo, error);
    const names = this.wildcard.has(typeUrl) ? [] : [...this.opts.sink.subscriptions(typeUrl)].sort();
    this.sentNames.set(typeUrl, names);
    this.stream?.write(error === undefined
      ? { node: this.opts.node, typeUrl, versionInfo: m.versionInfo, resourceNames: names, responseNonce: m.nonce }
      : { node: this.opts.node, typeUrl, versionInfo: st?.acceptedVersion ?? '', resourceNames: names, responseNonce: m.nonce, errorDetail: { code: GrpcStatus.INVALID_ARGUMENT, message: error } });
    if (!error) this.refreshSubscriptions();
  }

  private applyUpdate(update: XdsUpdate): string | undefined {
    try {
      return this.opts.sink.apply(update);
    } catch (err) {
      this.opts.log.error({ err }, 'applying xds update failed');
      return `internal error applying ${update.typeUrl}: ${(err as Error).message}`;
    }
  }

  private record(typeUrl: string, nonce: string, version: string, error: string | undefined): void {
    let st = this.status.get(typeUrl);
    if (!st) this.status.set(typeUrl, (st = { acceptedVersion: '', lastNonce: '', acks: 0, nacks: 0, lastNack: undefined }));
    st.lastNonce = nonce;
    if (error === undefined) {
      st.acks++;
      st.acceptedVersion = version;
      this.opts.log.debug({ typeUrl, version }, 'xds ACK');
    } else {
      st.nacks++;
      st.lastNack = error;
      this.opts.log.warn({ typeUrl, version, error }, 'xds NACK');
    }
  }
}
