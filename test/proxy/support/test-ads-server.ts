import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { EnvoyCodec } from '../../../src/data/xds-client/envoy-codec.ts';
import { TYPE_URL } from '../../../src/api/xds/type-urls.ts';

type Obj = Record<string, unknown>;

const WILDCARD = new Set<string>([TYPE_URL.cluster, TYPE_URL.listener]);
const NAME_FIELD = (t: string): string => (t === TYPE_URL.endpoint ? 'clusterName' : 'name');

export interface AckRecord {
  typeUrl: string;
  nonce: string;
  error: string | undefined;
  delta: boolean;
}

interface SotwStream {
  kind: 'sotw';
  call: grpc.ServerDuplexStream<Obj, Uint8Array>;
  subs: Map<string, string[]>;
}

interface DeltaStream {
  kind: 'delta';
  call: grpc.ServerDuplexStream<Obj, Uint8Array>;
  subs: Map<string, { wildcard: boolean; names: Set<string>; sent: Map<string, string> }>;
}

/**
 * A small real-gRPC ADS server for proxy tests: serves hand-written Envoy resources over SotW and
 * delta streams, pushes on every change, and records every ACK/NACK the proxy sends.
 */
export class TestAdsServer {
  private readonly codec: EnvoyCodec;
  private readonly server = new grpc.Server();
  private readonly resources = new Map<string, Map<string, { obj: Obj; version: string }>>();
  private readonly streams = new Set<SotwStream | DeltaStream>();
  readonly acks: AckRecord[] = [];
  readonly nodes: Obj[] = [];
  private version = 0;
  private nonce = 0;
  port = 0;
  private readonly deltaEnabled: boolean;
  private waiters: (() => void)[] = [];

  constructor(codec: EnvoyCodec, opts: { delta?: boolean } = {}) {
    this.codec = codec;
    this.deltaEnabled = opts.delta ?? true;
    const t = (n: string): protobuf.Type => codec.type(`envoy.service.discovery.v3.${n}`);
    const svc = (name: string, req: protobuf.Type, resp: protobuf.Type): grpc.MethodDefinition<Obj, Uint8Array> => ({
      path: `/envoy.service.discovery.v3.AggregatedDiscoveryService/${name}`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (o: Obj) => Buffer.from(req.encode(req.fromObject(o)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { longs: Number, defaults: false }) as Obj,
      responseSerialize: (b: Uint8Array) => Buffer.from(b),
      responseDeserialize: (b: Buffer) => b,
    });
    const def: grpc.ServiceDefinition = {
      StreamAggregatedResources: svc('StreamAggregatedResources', t('DiscoveryRequest'), t('DiscoveryResponse')),
      DeltaAggregatedResources: svc('DeltaAggregatedResources', t('DeltaDiscoveryRequest'), t('DeltaDiscoveryResponse')),
    };
    const impl: grpc.UntypedServiceImplementation = {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Obj, Uint8Array>) => this.onSotw(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Obj, Uint8Array>) => {
        if (!this.deltaEnabled) {
          call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'delta not enabled' });
          return;
        }
        this.onDelta(call);
      },
    };
    this.server.addService(def, impl);
  }

  async start(port = 0): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.streams) s.call.end();
    this.streams.clear();
    this.server.forceShutdown();
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  connectedStreams(): number {
    return this.streams.size;
  }

  /** Replace all resources of a type (names from the objects) and push. */
  set(typeUrl: string, objs: Obj[]): void {
    const v = String(++this.version);
    const m = new Map<string, { obj: Obj; version: string }>();
    const old = this.resources.get(typeUrl);
    for (const o of objs) {
      this.codec.encode(typeUrl, o); // fail the test here on a malformed resource
      const name = String(o[NAME_FIELD(typeUrl)]);
      const prev = old?.get(name);
      m.set(name, prev && JSON.stringify(prev.obj) === JSON.stringify(o) ? prev : { obj: o, version: v });
    }
    this.resources.set(typeUrl, m);
    this.pushAll(typeUrl);
  }

  /** Wait until `pred` holds (checked after every ACK/NACK). */
  async waitFor(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred()) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (pred()) {
          clearTimeout(t);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** The last ACK/NACK recorded for a type. */
  last(typeUrl: string): AckRecord | undefined {
    for (let i = this.acks.length - 1; i >= 0; i--) if (this.acks[i].typeUrl === typeUrl) return this.acks[i];
    return undefined;
  }

  private notify(): void {
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }

  private any(typeUrl: string, obj: Obj): Obj {
    return { typeUrl, value: this.codec.encode(typeUrl, obj) };
  }

  private respType(delta: boolean): protobuf.Type {
    return this.codec.type(`envoy.service.discovery.v3.${delta ? 'DeltaDiscoveryResponse' : 'DiscoveryResponse'}`);
  }

  private onSotw(call: grpc.ServerDuplexStream<Obj, Uint8Array>): void {
    const s: SotwStream = { kind: 'sotw', call, subs: new Map() };
    this.streams.add(s);
    call.on('data', (req: Obj) => {
      if (req.node) this.nodes.push(req.node as Obj);
      const typeUrl = String(req.typeUrl);
      const names = ((req.resourceNames as string[] | undefined) ?? []).slice().sort();
      const nonce = String(req.responseNonce ?? '');
      if (nonce) {
        const ed = req.errorDetail as Obj | undefined;
        this.acks.push({ typeUrl, nonce, error: ed ? String(ed.message ?? '') : undefined, delta: false });
      }
      const prev = s.subs.get(typeUrl);
      s.subs.set(typeUrl, names);
      if (!nonce || !prev || prev.join(',') !== names.join(',')) this.pushSotw(s, typeUrl);
      this.notify();
    });
    call.on('error', () => this.streams.delete(s));
    call.on('end', () => {
      this.streams.delete(s);
      call.end();
    });
    call.on('cancelled', () => this.streams.delete(s));
  }

  private pushSotw(s: SotwStream, typeUrl: string): void {
    const names = s.subs.get(typeUrl);
    if (names === undefined) return;
    const all = this.resources.get(typeUrl);
    if (!all) return;
    const list = [...all.entries()].filter(([n]) => WILDCARD.has(typeUrl) || names.includes(n));
    const t = this.respType(false);
    const msg = { versionInfo: String(this.version), typeUrl, nonce: String(++this.nonce), resources: list.map(([, r]) => this.any(typeUrl, r.obj)) };
    s.call.write(t.encode(t.fromObject(msg)).finish());
  }

  private onDelta(call: grpc.ServerDuplexStream<Obj, Uint8Array>): void {
    const s: DeltaStream = { kind: 'delta', call, subs: new Map() };
    this.streams.add(s);
    call.on('data', (req: Obj) => {
      if (req.node) this.nodes.push(req.node as Obj);
      const typeUrl = String(req.typeUrl);
      const nonce = String(req.responseNonce ?? '');
      if (nonce) {
        const ed = req.errorDetail as Obj | undefined;
        this.acks.push({ typeUrl, nonce, error: ed ? String(ed.message ?? '') : undefined, delta: true });
        this.notify();
        return;
      }
      let sub = s.subs.get(typeUrl);
      const add = (req.resourceNamesSubscribe as string[] | undefined) ?? [];
      const drop = (req.resourceNamesUnsubscribe as string[] | undefined) ?? [];
      if (!sub) {
        sub = { wildcard: add.length === 0 || add.includes('*'), names: new Set(add.filter((n) => n !== '*')), sent: new Map() };
        for (const [n, v] of Object.entries((req.initialResourceVersions as Record<string, string> | undefined) ?? {})) sub.sent.set(n, v);
        s.subs.set(typeUrl, sub);
      } else {
        for (const n of add) sub.names.add(n);
        for (const n of drop) {
          sub.names.delete(n);
          sub.sent.delete(n);
        }
      }
      this.pushDelta(s, typeUrl);
      this.notify();
    });
    call.on('error', () => this.streams.delete(s));
    call.on('end', () => {
      this.streams.delete(s);
      call.end();
    });
    call.on('cancelled', () => this.streams.delete(s));
  }

  private pushDelta(s: DeltaStream, typeUrl: string): void {
    const sub = s.subs.get(typeUrl);
    if (!sub) return;
    const all = this.resources.get(typeUrl) ?? new Map<string, { obj: Obj; version: string }>();
    const resources: Obj[] = [];
    const removed: string[] = [];
    for (const [n, r] of all) {
      if (!sub.wildcard && !sub.names.has(n)) continue;
      if (sub.sent.get(n) === r.version) continue;
      sub.sent.set(n, r.version);
      resources.push({ name: n, version: r.version, resource: this.any(typeUrl, r.obj) });
    }
    for (const n of [...sub.sent.keys()]) {
      if (!all.has(n)) {
        sub.sent.delete(n);
        removed.push(n);
      }
    }
    if (resources.length === 0 && removed.length === 0) return;
    const t = this.respType(true);
    const msg = { systemVersionInfo: String(this.version), typeUrl, nonce: String(++this.nonce), resources, removedResources: removed };
    s.call.write(t.encode(t.fromObject(msg)).finish());
  }

  private pushAll(typeUrl: string): void {
    for (const s of this.streams) {
      if (s.kind === 'sotw') this.pushSotw(s, typeUrl);
      else this.pushDelta(s, typeUrl);
    }
  }
}
