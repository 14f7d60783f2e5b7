import type * as net from 'node:net';
import type * as tls from 'node:tls';
import protobuf from 'protobufjs';
import type { StreamInfo } from '../l7/stream-info.ts';
import { jsonToStruct, structToJson, type Obj } from '../xds-client/proto-values.ts';
import { TELEMETRY_RECORD_KEY, TelemetryRecord } from './metadata-exchange-filter.ts';
import { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, peerInfoOf, type PeerInfo } from './peer-metadata.ts';

/** ALPN that both sidecars must negotiate for the TCP exchange to happen. */
export const MX_ALPN = 'istio-peer-exchange';
/** Config type of Istio's TCP metadata exchange (listener and upstream cluster filter). */
export const MX_TYPE = 'envoy.tcp.metadataexchange.config.MetadataExchange';
export const MX_MAGIC = 0x3d230467;
const STRUCT_URL = 'type.googleapis.com/google.protobuf.Struct';
/** A peer header larger than this is not metadata: the connection is closed. */
const MAX_FRAME = 64 * 1024;

/** True when a network/cluster filter (name, typed_config) is Istio's TCP metadata exchange. */
export function isTcpMetadataExchange(name: string, typeName: string, typedStructUrl: string): boolean {
  return typeName === MX_TYPE || typedStructUrl.endsWith(`/${MX_TYPE}`) || name === 'istio.metadata_exchange' || name === 'envoy.filters.network.metadata_exchange';
}

/** The TelemetryRecord of a TCP stream (created on first use). */
function recordOf(info: StreamInfo): TelemetryRecord {
  let r = info.filterState.get(TELEMETRY_RECORD_KEY) as TelemetryRecord | undefined;
  if (!r) {
    r = new TelemetryRecord();
    info.filterState.set(TELEMETRY_RECORD_KEY, r);
  }
  return r;
}

/**
 * Istio's TCP metadata exchange (ALPN `istio-peer-exchange`): once mTLS negotiated that ALPN,
 * each side first writes `magic (u32 BE) | length (u32 BE) | google.protobuf.Any{Struct}` where
 * the Struct holds `x-envoy-peer-metadata` (our node metadata) and `x-envoy-peer-metadata-id`,
 * and reads the peer's before the payload. After that the connection is a plain byte pipe.
 */
export class TcpMetadataExchange {
  /** Our header, serialized once. */
  readonly frame: Buffer;
  private readonly struct: protobuf.Type;
  private readonly any: protobuf.Type;
  private readonly cache = new Map<string, PeerInfo | null>();
  private nextId = 1_000_000;

  constructor(ownMetadata: Obj, ownId: string, exchanged: (meta: Obj) => Obj) {
    const root = new protobuf.Root();
    root.addJSON((protobuf.common.get('google/protobuf/struct.proto') as protobuf.INamespace).nested!);
    root.addJSON((protobuf.common.get('google/protobuf/any.proto') as protobuf.INamespace).nested!);
    this.struct = root.lookupType('google.protobuf.Struct');
    this.any = root.lookupType('google.protobuf.Any');
    const body = jsonToStruct({ [PEER_METADATA_HEADER]: exchanged(ownMetadata), [PEER_METADATA_ID_HEADER]: ownId });
    const value = this.struct.encode(this.struct.fromObject(body)).finish();
    const payload = this.any.encode(this.any.fromObject({ type_url: STRUCT_URL, typeUrl: STRUCT_URL, value })).finish();
    this.frame = Buffer.alloc(8 + payload.length);
    this.frame.writeUInt32BE(MX_MAGIC, 0);
    this.frame.writeUInt32BE(payload.length, 4);
    Buffer.from(payload).copy(this.frame, 8);
  }

  /** True when the TLS socket negotiated the exchange ALPN. */
  negotiated(socket: net.Socket): boolean {
    return (socket as tls.TLSSocket).alpnProtocol === MX_ALPN;
  }

  /** The peer from a frame payload (an Any holding the Struct), cached by content. */
  decodePeer(payload: Buffer): PeerInfo | undefined {
    const key = payload.toString('base64');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let info: PeerInfo | null = null;
    try {
      const any = this.any.decode(payload) as unknown as { value: Uint8Array };
      const fields = structToJson(this.struct.toObject(this.struct.decode(any.value), { defaults: false }));
      const meta = fields[PEER_METADATA_HEADER];
      if (meta && typeof meta === 'object') info = peerInfoOf(meta as Obj, this.nextId++);
    } catch {
      info = null;
    }
    if (this.cache.size >= 1024) this.cache.clear();
    this.cache.set(key, info);
    return info ?? undefined;
  }

  /**
   * Reads the peer's header from `socket` (after `initial` bytes already read), then calls
   * `done(peer, rest)` with the bytes after it, paused. A stream not starting with the magic
   * yields no peer and all its bytes back; a closed socket or oversized header yields `ok=false`.
   */
  readPeer(socket: net.Socket, initial: Buffer | undefined, done: (ok: boolean, peer: PeerInfo | undefined, rest: Buffer | undefined) => void): void {
    let buf = initial ?? Buffer.alloc(0);
    let settled = false;
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
    };
    const settle = (ok: boolean, peer: PeerInfo | undefined, rest: Buffer | undefined): void => {
      if (settled) return;
      settled = true;
      cleanup();
      done(ok, peer, rest && rest.length > 0 ? rest : undefined);
    };
    const check = (): boolean => {
      if (buf.length < 8) {
        if (buf.length > 0 && !Buffer.from([0x3d, 0x23, 0x04, 0x67]).subarray(0, Math.min(4, buf.length)).equals(buf.subarray(0, Math.min(4, buf.length)))) {
          settle(true, undefined, buf);
          return true;
        }
        return false;
      }
      if (buf.readUInt32BE(0) !== MX_MAGIC) {
        settle(true, undefined, buf);
        return true;
      }
      const len = buf.readUInt32BE(4);
      if (len > MAX_FRAME) {
        settle(false, undefined, undefined);
        return true;
      }
      if (buf.length < 8 + len) return false;
      settle(true, this.decodePeer(buf.subarray(8, 8 + len)), buf.subarray(8 + len));
      return true;
    };
    const onData = (d: Buffer): void => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      check();
    };
    const onEnd = (): void => settle(false, undefined, undefined);
    if (check()) return;
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  }

  /** Server side: write our header, read the client's into the stream's record (downstream peer). */
  downstream(socket: net.Socket, initial: Buffer | undefined, info: StreamInfo, done: (rest: Buffer | undefined) => void): void {
    socket.write(this.frame);
    this.readPeer(socket, initial, (ok, peer, rest) => {
      if (!ok) {
        socket.destroy();
        return;
      }
      recordOf(info).downstreamPeer = peer;
      done(rest);
    });
  }

  /** Client side: write our header, read the server's into the stream's record (upstream peer). */
  upstream(socket: net.Socket, info: StreamInfo, done: (ok: boolean, rest: Buffer | undefined) => void): void {
    socket.write(this.frame);
    this.readPeer(socket, undefined, (ok, peer, rest) => {
      if (ok) recordOf(info).upstreamPeer = peer;
      done(ok, rest);
    });
  }
}
