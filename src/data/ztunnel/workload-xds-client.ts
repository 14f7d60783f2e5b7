import type protobuf from 'protobufjs';
import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { GrpcChannel } from '../../lib/grpc-wire/grpc-channel.ts';
import type { GrpcClientStream, GrpcStreamStatus } from '../../lib/grpc-wire/grpc-client-stream.ts';
import { GrpcStatus } from '../../lib/grpc-wire/grpc-status.ts';
import type { Logger } from '../../lib/log.ts';
import type { XdsTransport } from '../xds-client/ads-client.ts';
import { toAuthorization, toService, toWorkload, type ZAuthorization, type ZService, type ZWorkload } from './workload-model.ts';
import type { WorkloadStore } from './workload-store.ts';

/**
 * ztunnel's xDS client (zt:src/xds/client.rs): one delta ADS stream for
 * `istio.workload.Address` and `istio.security.Authorization`. Address is a wildcard
 * subscription, or with `onDemand` starts as "subscribe to nothing" (`*` subscribed and
 * unsubscribed in one request) and asks for `network/IP` names as connections need them
 * (`demand`), waiting until the answer arrives. Authorization is always wildcard. Every response
 * is decoded and applied to the store before it is ACKed; a resource that does not decode NACKs
 * the whole response (nothing applied). Reconnects with backoff, reporting what it holds in
 * initial_resource_versions.
 */
export interface WorkloadXdsClientOptions {
  target: string;
  node: Record<string, unknown>;
  /** Envoy's discovery messages (DeltaDiscoveryRequest/Response). */
  envoyRoot: protobuf.Root;
  /** Istio's workload API types. */
  workloadRoot: protobuf.Root;
  store: WorkloadStore;
  clock: Clock;
  log: Logger;
  transport?: XdsTransport;
  onDemand?: boolean;
}

export interface TypeStatus {
  acks: number;
  nacks: number;
  lastNack: string | undefined;
  lastNonce: string;
  resources: number;
}

const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: Number, bytes: Buffer, defaults: false };
const DEMAND_TIMEOUT_MS = 5000;

export class WorkloadXdsClient {
  private readonly o: WorkloadXdsClientOptions;
  private readonly reqType: protobuf.Type;
  private readonly respType: protobuf.Type;
  private readonly addressType: protobuf.Type;
  private readonly authorizationType: protobuf.Type;
  private channel: GrpcChannel | undefined;
  private call: GrpcClientStream | undefined;
  private retry: TimerHandle | undefined;
  private backoffMs = 500;
  private closed = false;
  private readonly versions = new Map<string, Map<string, string>>([[TYPE_URL.workloadAddress, new Map()], [TYPE_URL.authorization, new Map()]]);
  /** On-demand names subscribed (kept across reconnects). */
  private readonly demanded = new Set<string>();
  private readonly pending = new Map<string, { resolve: () => void }[]>();
  private readySeen = new Set<string>();
  private readyWaiters: (() => void)[] = [];
  readonly status = new Map<string, TypeStatus>();
  connected = false;

  constructor(o: WorkloadXdsClientOptions) {
    this.o = o;
    this.reqType = o.envoyRoot.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    this.respType = o.envoyRoot.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    this.addressType = o.workloadRoot.lookupType('istio.workload.Address');
    this.authorizationType = o.workloadRoot.lookupType('istio.security.Authorization');
    for (const t of [TYPE_URL.workloadAddress, TYPE_URL.authorization]) this.status.set(t, { acks: 0, nacks: 0, lastNack: undefined, lastNonce: '', resources: 0 });
  }

  start(): void {
    this.closed = false;
    this.open();
  }

  /** Resolves once both types got their first response (ztunnel's readiness waits for it). */
  ready(): Promise<void> {
    if (this.readySeen.size >= 2) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  get isReady(): boolean {
    return this.readySeen.size >= 2;
  }

  /**
   * On-demand lookup of an Address name (`network/IP`, uid or namespace/hostname): resolves when
   * discovery answered it (found or not), or after 5 s. Immediate without on-demand mode.
   */
  demand(name: string): Promise<void> {
    if (!this.o.onDemand || this.demanded.has(name)) return Promise.resolve();
    this.demanded.add(name);
    const p = new Promise<void>((resolve) => {
      const list = this.pending.get(name) ?? [];
      list.push({ resolve });
      this.pending.set(name, list);
      const t = this.o.clock.setTimer(() => this.settle(name), DEMAND_TIMEOUT_MS);
      void p.then(() => t.cancel());
    });
    this.write({ typeUrl: TYPE_URL.workloadAddress, resourceNamesSubscribe: [name] });
    return p;
  }

  close(): void {
    this.closed = true;
    this.retry?.cancel();
    this.call?.cancel();
    this.call = undefined;
    this.channel?.close();
    this.channel = undefined;
    this.connected = false;
    for (const name of [...this.pending.keys()]) this.settle(name);
  }

  private settle(name: string): void {
    const list = this.pending.get(name);
    if (!list) return;
    this.pending.delete(name);
    for (const w of list) w.resolve();
  }

  private write(req: Record<string, unknown>): void {
    if (!this.call) return;
    this.call.write(this.reqType.encode(this.reqType.fromObject({ node: this.o.node, ...req })).finish());
  }

  private open(): void {
    if (this.closed) return;
    this.channel ??= new GrpcChannel({ target: this.o.target, tls: this.o.transport?.tls, authority: this.o.transport?.authority, keepaliveMs: 30_000 });
    const call = this.channel.openStream('/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources', {
      metadata: this.o.transport?.metadata,
      maxReceiveMessageBytes: MAX_RESPONSE_BYTES,
      onMessage: (bytes) => {
        if (this.call !== call) return;
        if (!this.connected) {
          this.connected = true;
          this.backoffMs = 500;
        }
        try {
          this.onResponse(bytes);
        } catch (err) {
          this.o.log.error({ err: (err as Error).message }, 'workload xDS response handling failed');
        }
      },
      onStatus: (st: GrpcStreamStatus) => {
        if (this.call !== call) return;
        if (st.code !== GrpcStatus.OK && st.code !== GrpcStatus.CANCELLED) this.o.log.warn({ code: st.code, details: st.message }, 'workload xDS stream failed (is discovery reachable?)');
        this.lost();
      },
    });
    this.call = call;
    const initial = (typeUrl: string, onDemand: boolean): Record<string, unknown> => {
      const known = Object.fromEntries(this.versions.get(typeUrl) ?? []);
      if (!onDemand) return { typeUrl, initialResourceVersions: known };
      // "Subscribe to nothing", then what this ztunnel already asked for.
      return { typeUrl, resourceNamesSubscribe: ['*', ...this.demanded], resourceNamesUnsubscribe: ['*'], initialResourceVersions: known };
    };
    this.write(initial(TYPE_URL.workloadAddress, this.o.onDemand === true));
    this.write(initial(TYPE_URL.authorization, false));
  }

  private lost(): void {
    this.call = undefined;
    this.connected = false;
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(30_000, delay * 2);
    this.retry = this.o.clock.setTimer(() => this.open(), delay / 2 + Math.random() * (delay / 2));
  }

  private onResponse(bytes: Buffer): void {
    const m = this.respType.toObject(this.respType.decode(bytes), { ...TO_OBJECT, bytes: Buffer }) as {
      typeUrl: string;
      nonce: string;
      removedResources?: string[];
      resources?: { name: string; version: string; aliases?: string[]; resource?: { type_url?: string; typeUrl?: string; value: Buffer } }[];
    };
    const typeUrl = m.typeUrl;
    const st = this.status.get(typeUrl);
    let error: string | undefined;
    const removed = m.removedResources ?? [];
    const answered = new Set<string>(removed);
    try {
      if (typeUrl === TYPE_URL.workloadAddress) {
        const updates: { name: string; workload?: ZWorkload; service?: ZService }[] = [];
        for (const r of m.resources ?? []) {
          if (!r.resource) continue;
          const o = this.addressType.toObject(this.addressType.decode(r.resource.value), TO_OBJECT) as { workload?: Record<string, unknown>; service?: Record<string, unknown> };
          if (o.workload) updates.push({ name: r.name, workload: toWorkload(o.workload) });
          else if (o.service) updates.push({ name: r.name, service: toService(o.service) });
          else throw new Error(`${r.name}: Address with neither workload nor service`);
          answered.add(r.name);
          for (const a of r.aliases ?? []) answered.add(a);
        }
        this.o.store.applyAddresses(updates, removed);
      } else if (typeUrl === TYPE_URL.authorization) {
        const updates: ZAuthorization[] = [];
        for (const r of m.resources ?? []) {
          if (!r.resource) continue;
          updates.push(toAuthorization(r.name, this.authorizationType.toObject(this.authorizationType.decode(r.resource.value), TO_OBJECT) as Record<string, unknown>));
        }
        this.o.store.applyPolicies(updates, removed);
      } else {
        error = `unexpected type ${typeUrl}`;
      }
    } catch (err) {
      error = `cannot apply ${typeUrl}: ${(err as Error).message}`;
    }
    if (error === undefined) {
      const known = this.versions.get(typeUrl);
      if (known) {
        for (const r of m.resources ?? []) known.set(r.name, r.version);
        for (const n of removed) known.delete(n);
      }
      if (st) {
        st.acks++;
        st.resources = known?.size ?? 0;
      }
      this.write({ typeUrl, responseNonce: m.nonce });
      if (!this.readySeen.has(typeUrl)) {
        this.readySeen.add(typeUrl);
        if (this.readySeen.size >= 2) for (const w of this.readyWaiters.splice(0)) w();
      }
      for (const name of answered) this.settle(name);
    } else {
      if (st) {
        st.nacks++;
        st.lastNack = error;
      }
      this.o.log.warn({ typeUrl, error }, 'workload xDS NACK');
      this.write({ typeUrl, responseNonce: m.nonce, errorDetail: { code: GrpcStatus.INVALID_ARGUMENT, message: error } });
    }
    if (st) st.lastNonce = m.nonce;
  }
}
