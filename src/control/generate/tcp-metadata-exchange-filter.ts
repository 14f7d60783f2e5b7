import type { JsonObject } from './envoy-extensions.ts';

const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';
/** The ALPN on which Istio's sidecars exchange node metadata at the start of an mTLS TCP connection. */
export const MX_ALPN = 'istio-peer-exchange';

/**
 * Istio's TCP `istio.metadata_exchange` (envoy.tcp.metadataexchange.config.MetadataExchange,
 * protocol istio-peer-exchange): first network filter of inbound TCP chains and upstream filter
 * of outbound mesh clusters. Sent as a TypedStruct (the message is not among Envoy's protos).
 */
export function tcpMetadataExchangeFilter(): JsonObject {
  return {
    name: 'istio.metadata_exchange',
    typedConfig: { '@type': TYPED_STRUCT, typeUrl: 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange', value: { enable_discovery: true, protocol: MX_ALPN } },
  };
}
