import type { Settings } from 'node:http2';

/**
 * HTTP/2 settings of HBONE connections (ztunnel's defaults): 4 MiB stream windows, a 16 MiB
 * connection window, 1 MiB frames, at most 100 streams per connection (ztunnel's
 * POOL_MAX_STREAMS_PER_CONNECTION; a client opens another connection beyond it).
 */
export const HBONE_PORT = 15008;
export const STREAM_WINDOW = 4 * 1024 * 1024;
export const CONNECTION_WINDOW = 16 * 1024 * 1024;
export const FRAME_SIZE = 1024 * 1024;
export const MAX_STREAMS_PER_CONNECTION = 100;
/** An HBONE connection nobody used for this long is closed (POOL_UNUSED_RELEASE_TIMEOUT). */
export const POOL_UNUSED_RELEASE_MS = 5 * 60 * 1000;

export const HBONE_SETTINGS: Settings = {
  initialWindowSize: STREAM_WINDOW,
  maxFrameSize: FRAME_SIZE,
  enablePush: false,
};

/** The mutual TLS identity a side presents: its certificate chain, key and the mesh root. */
export interface HboneCredentials {
  certChainPem: string;
  privateKeyPem: string;
  rootCertPem: string;
}
