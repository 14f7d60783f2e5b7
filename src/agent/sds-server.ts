import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadEnvoyRoot } from '../api/xds/envoy-protos.ts';
import { TYPE_URL } from '../api/xds/type-urls.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretCache, WorkloadSecret } from './secret-cache.ts';
import { sdsSecretResource } from './sds-secrets.ts';

/**
 * Envoy's SecretDiscoveryService (StreamSecrets, state of the world) over a Unix socket or TCP,
 * as istio-agent serves it to Envoy: `default` and `ROOTCA` from the SecretCache, pushed again
 * whenever a rotation replaces the certificate. Names the agent does not know get no resource.
 */
export const SDS_SERVICE_PATH = '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets';

interface DiscoveryRequest {
  versionInfo?: string;
  resourceNames?: string[];
  typeUrl?: string;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
  node?: { id?: string };
}

interface DiscoveryResponse {
  versionInfo: string;
  resources: { typeUrl: string; value: Uint8Array }[];
  typeUrl: string;
  nonce: string;
}

/** The grpc-js service definition, with protobufjs (Envoy's protos) doing the encoding. */
export function secretDiscoveryServiceDefinition(root: protobuf.Root): grpc.ServiceDefinition {
  const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const Res = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const opts = { longs: String, enums: Number, defaults: false, arrays: true };
  return {
    StreamSecrets: {
      path: SDS_SERVICE_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: (m: DiscoveryRequest) => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
      requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b), opts) as DiscoveryRequest,
      responseSerialize: (m: DiscoveryResponse) => Buffer.from(Res.encode(Res.fromObject(m)).finish()),
      responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b), opts) as DiscoveryResponse,
    },
  };
}

type Stream = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

interface StreamState {
  names: string[];
  nonce: number;
}

export class SdsServer {
  private readonly cache: SecretCache;
  private readonly log: Logger;
  private readonly root: protobuf.Root;
  private readonly Secret: protobuf.Type;
  private readonly streams = new Map<Stream, StreamState>();
  private readonly unsubscribe: () => void;
  private version = 0;
  private server: grpc.Server | undefined;

  constructor(o: { cache: SecretCache; log: Logger; root?: protobuf.Root }) {
    this.cache = o.cache;
    this.log = o.log;
    this.root = o.root ?? loadEnvoyRoot();
    this.Secret = this.root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');
    this.unsubscribe = this.cache.subscribe(() => {
      this.version++;
      for (const [stream, state] of this.streams) this.push(stream, state);
    });
  }

  addToServer(server: grpc.Server): void {
    server.addService(secretDiscoveryServiceDefinition(this.root), { StreamSecrets: (s: Stream) => this.handle(s) });
  }

  /** Serve on its own server at `address` (`unix:/path/socket` or `127.0.0.1:0`); resolves with the bound port (0 for UDS). */
  listen(address: string): Promise<number> {
    const server = new grpc.Server();
    this.addToServer(server);
    this.server = server;
    return new Promise((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
  }

  private handle(stream: Stream): void {
    const state: StreamState = { names: [], nonce: 0 };
    this.streams.set(stream, state);
    const drop = (): void => void this.streams.delete(stream);
    stream.on('end', () => {
      drop();
      stream.end();
    });
    stream.on('error', drop);
    stream.on('close', drop);
    stream.on('data', (req: DiscoveryRequest) => {
      if (req.typeUrl && req.typeUrl !== TYPE_URL.secret) {
        this.log.warn({ typeUrl: req.typeUrl }, 'SDS request for a type other than Secret ignored');
        return;
      }
      // A response to an older push (stale nonce) is ignored, as xDS prescribes.
      if (req.responseNonce && req.responseNonce !== String(state.nonce)) return;
      const names = [...(req.resourceNames ?? [])].sort();
      const changed = names.join('\0') !== state.names.join('\0');
      state.names = names;
      if (req.errorDetail) {
        // A NACK: log it and wait for the next rotation rather than resending what was refused.
        this.log.warn({ node: req.node?.id, error: req.errorDetail.message, names: req.resourceNames }, 'SDS update rejected by the proxy (NACK)');
      }
      // First request (no nonce) or a new subscription gets an answer; an ACK or NACK does not.
      if (changed || !req.responseNonce) this.push(stream, state);
    });
  }

  private push(stream: Stream, state: StreamState): void {
    const secret: WorkloadSecret | undefined = this.cache.current();
    if (!secret || state.names.length === 0) return; // answered once the first certificate exists
    const resources = state.names
      .map((n) => sdsSecretResource(secret, n))
      .filter((r) => r !== undefined)
      .map((r) => ({ typeUrl: TYPE_URL.secret, value: this.Secret.encode(this.Secret.fromObject(r)).finish() }));
    const versionInfo = String(this.version);
    stream.write({ versionInfo, resources, typeUrl: TYPE_URL.secret, nonce: String(++state.nonce) });
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const s of this.streams.keys()) s.end();
    this.streams.clear();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.tryShutdown(() => r()));
  }
}
