import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

/** A DiscoveryResponse / DeltaDiscoveryResponse in protobufjs object form, resources pre-encoded. */
export interface AnyMessage {
  /** protobufjs's bundled google.protobuf.Any keeps the snake_case field name. */
  type_url: string;
  value: Uint8Array;
}

export interface DiscoveryResponseMessage {
  versionInfo: string;
  resources: AnyMessage[];
  typeUrl: string;
  nonce: string;
  controlPlane?: { identifier: string };
}

export interface DeltaResourceMessage {
  name: string;
  version: string;
  resource?: AnyMessage;
}

export interface DeltaDiscoveryResponseMessage {
  systemVersionInfo: string;
  resources: DeltaResourceMessage[];
  typeUrl: string;
  removedResources: string[];
  nonce: string;
  controlPlane?: { identifier: string };
}

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/**
 * The grpc-js service definition of ADS. Requests are handed over as raw bytes (the stream
 * decodes them, so a malformed message ends only that stream with a clear INVALID_ARGUMENT);
 * responses are encoded with Envoy's protobufjs types.
 */
export function adsServiceDefinition(root: protobuf.Root): grpc.ServiceDefinition {
  const resp = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const deltaResp = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const raw = (b: Buffer): Buffer => b;
  return {
    StreamAggregatedResources: {
      path: `/${ADS_SERVICE_NAME}/StreamAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: raw,
      responseSerialize: (m: DiscoveryResponseMessage | Buffer) => (Buffer.isBuffer(m) ? m : Buffer.from(resp.encode(m).finish())),
      responseDeserialize: (b: Buffer) => resp.decode(b),
    },
    DeltaAggregatedResources: {
      path: `/${ADS_SERVICE_NAME}/DeltaAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: raw,
      responseSerialize: (m: DeltaDiscoveryResponseMessage) => Buffer.from(deltaResp.encode(m).finish()),
      responseDeserialize: (b: Buffer) => deltaResp.decode(b),
    },
  } as unknown as grpc.ServiceDefinition;
}

/** Decode options shared by both streams: camelCase objects, longs as strings, bytes as Buffers. */
export const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: Buffer, defaults: false, arrays: true };
