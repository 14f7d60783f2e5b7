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
  aliases?: readonly string[];
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
export const ADS_SOTW_PATH = `/${ADS_SERVICE_NAME}/StreamAggregatedResources`;
export const ADS_DELTA_PATH = `/${ADS_SERVICE_NAME}/DeltaAggregatedResources`;

/** Decode options shared by both streams: camelCase objects, longs as strings, bytes as Buffers. */
export const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: Buffer, defaults: false, arrays: true };
