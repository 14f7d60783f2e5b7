import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { ADS_SERVICE_NAME } from '../../../src/control/xds/ads-service.ts';
import { jsonToStruct } from '../../../src/control/xds/proxy-info.ts';

/**
 * A small ADS client for protocol tests: real gRPC, requests encoded and responses decoded with
 * Envoy's protobufjs types. Responses queue up; `next()` waits for the next one.
 */
export interface DecodedResponse {
  versionInfo?: string;
  systemVersionInfo?: string;
  typeUrl: string;
  nonce: string;
  resources: { type_url?: string; name?: string; version?: string; value?: Buffer; resource?: { type_url: string; value: Buffer } | null }[];
  removedResources?: string[];
}

export class AdsTestClient {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<unknown, DecodedResponse>;
  private readonly queue: DecodedResponse[] = [];
  private waiters: ((r: DecodedResponse) => void)[] = [];
  private readonly root: protobuf.Root;
  status: grpc.StatusObject | undefined;
  private statusWaiters: ((s: grpc.StatusObject) => void)[] = [];

  constructor(root: protobuf.Root, address: string, mode: 'sotw' | 'delta', rawRequests = false, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}) {
    this.root = root;
    const reqType = root.lookupType(mode === 'sotw' ? 'envoy.service.discovery.v3.DiscoveryRequest' : 'envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const respType = root.lookupType(mode === 'sotw' ? 'envoy.service.discovery.v3.DiscoveryResponse' : 'envoy.service.discovery.v3.DeltaDiscoveryResponse');
    const method = mode === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
    const Ctor = grpc.makeGenericClientConstructor({}, ADS_SERVICE_NAME);
    this.client = new Ctor(address, credentials, options);
    this.stream = this.client.makeBidiStreamRequest(
      `/${ADS_SERVICE_NAME}/${method}`,
      (m: unknown) => (rawRequests && Buffer.isBuffer(m) ? m : Buffer.from(reqType.encode(reqType.fromObject(m as Record<string, unknown>)).finish())),
      (b: Buffer) => respType.toObject(respType.decode(b), { longs: String, bytes: Buffer, defaults: true, arrays: true }) as DecodedResponse,
    );
    this.stream.on('data', (r: DecodedResponse) => {
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    this.stream.on('status', (s: grpc.StatusObject) => {
      this.status = s;
      for (const w of this.statusWaiters) w(s);
      this.statusWaiters = [];
    });
    this.stream.on('error', () => {});
  }

  send(req: Record<string, unknown> | Buffer): void {
    this.stream.write(req);
  }

  /** The next response (waits up to `timeoutMs`). */
  next(timeoutMs = 5000): Promise<DecodedResponse> {
    const r = this.queue.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error('no xDS response within timeout'));
      }, timeoutMs);
      const done = (x: DecodedResponse): void => {
        clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  /** Number of responses received and not yet read. */
  get buffered(): number {
    return this.queue.length;
  }

  waitStatus(): Promise<grpc.StatusObject> {
    if (this.status) return Promise.resolve(this.status);
    return new Promise((resolve) => this.statusWaiters.push(resolve));
  }

  /** Decode a response's resources to objects with the resource type. */
  decode(resp: DecodedResponse): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const r of resp.resources) {
      const any = r.resource ?? (r.value ? { type_url: r.type_url ?? '', value: r.value } : undefined);
      if (!any) continue;
      if (any.type_url !== resp.typeUrl) throw new Error(`resource type_url ${any.type_url} != response type_url ${resp.typeUrl}`);
      const t = this.root.lookupType(any.type_url.slice(any.type_url.lastIndexOf('/') + 1));
      out.push(t.toObject(t.decode(any.value), { longs: String, defaults: false }));
    }
    return out;
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }
}

export function sidecarNode(pod: string, ns: string, ip = '10.0.0.1', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: `sidecar~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`,
    metadata: jsonToStruct({ NAMESPACE: ns, ISTIO_VERSION: '1.24-mizzen', LABELS: { app: pod }, ...extra }),
  };
}
