import protobuf from 'protobufjs';
import { DECODE_OPTIONS } from './ads-service.ts';
import type { AdsRequestHead } from './ads-stream.ts';
import type { SubscriptionCache } from './subscription-cache.ts';

export interface DiscoveryRequest extends AdsRequestHead {
  versionInfo?: string;
  /** Shared between streams (see SubscriptionCache): never mutate. */
  resourceNames?: readonly string[];
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

/** The names a stream last sent for one type, as bytes on the wire (a copy, shared via the SubscriptionCache) and decoded. */
interface LastNames {
  readonly raw: Buffer;
  readonly names: readonly string[];
}

/**
 * Decodes SotW DiscoveryRequests (version_info=1, node=2, resource_names=3, type_url=4,
 * response_nonce=5, error_detail=6; other fields skipped) into the same object protobufjs gives.
 * An Envoy repeats its whole subscription in every ACK: a thousand EDS cluster names, 40 KB, per
 * proxy per push. When the names' bytes are those the stream sent last time for the type, the
 * previous array is returned as is (compared byte for byte, never decoded again), so an ACK costs
 * a memcmp and the subscription check can see by identity that nothing changed. Names the stream
 * has not sent before come from the server-wide SubscriptionCache when given (decoded once for
 * every stream sending the same bytes). Malformed input throws, as protobufjs does.
 */
export class DiscoveryRequestDecoder {
  private readonly nodeType: protobuf.Type;
  private readonly statusType: protobuf.Type;
  private readonly last = new Map<string, LastNames>();
  private readonly shared: SubscriptionCache | undefined;

  constructor(root: protobuf.Root, shared?: SubscriptionCache) {
    this.nodeType = root.lookupType('envoy.config.core.v3.Node');
    this.statusType = root.lookupType('google.rpc.Status');
    this.shared = shared;
  }

  decode(buf: Buffer): DiscoveryRequest {
    const r = protobuf.Reader.create(buf);
    const out: DiscoveryRequest = {};
    let namesStart = -1;
    let namesEnd = -1;
    let contiguous = true;
    let matched: LastNames | undefined;
    while (r.pos < r.len) {
      const tagAt = r.pos;
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 0) throw new Error(`invalid tag at offset ${tagAt}`);
      if (field > 6 || wire !== 2) {
        if (field <= 6) throw new Error(`field ${field} has wire type ${wire}, want 2`);
        r.skipType(wire);
        continue;
      }
      switch (field) {
        case 1:
          out.versionInfo = r.string();
          break;
        case 2:
          out.node = this.nodeType.toObject(this.nodeType.decode(r.bytes()), DECODE_OPTIONS) as DiscoveryRequest['node'];
          break;
        case 3:
          if (namesStart < 0) {
            namesStart = tagAt;
            // An ACK repeating the names last sent: their bytes are here again, in one run that
            // is checked with one memcmp instead of skipped name by name (a following name, if
            // any, lands in the branch below and makes the run longer than the last one).
            // The type URL comes after the names: try the stream's last names of each type.
            matched = this.repeated(buf, tagAt);
            if (matched) {
              r.pos = namesEnd = tagAt + matched.raw.length;
              break;
            }
          } else if (namesEnd !== tagAt) contiguous = false;
          r.skipType(2);
          namesEnd = r.pos;
          break;
        case 4:
          out.typeUrl = r.string();
          break;
        case 5:
          out.responseNonce = r.string();
          break;
        case 6:
          // A copy: the request may be in memory the next request reuses (transient gRPC messages).
          out.errorDetail = this.statusType.toObject(this.statusType.decode(Buffer.from(r.bytes())), DECODE_OPTIONS) as DiscoveryRequest['errorDetail'];
          break;
      }
    }
    if (namesStart < 0) {
      out.resourceNames = [];
      return out;
    }
    const raw = buf.subarray(namesStart, namesEnd);
    const typeUrl = out.typeUrl ?? '';
    const prev = this.last.get(typeUrl);
    if (contiguous && prev && (prev === matched ? raw.length === prev.raw.length : prev.raw.equals(raw))) {
      out.resourceNames = prev.names;
      return out;
    }
    const decodeNames = (): string[] => {
      const names: string[] = [];
      const nr = protobuf.Reader.create(buf);
      while (nr.pos < nr.len) {
        const tag = nr.uint32();
        if (tag >>> 3 === 3) names.push(nr.string());
        else nr.skipType(tag & 7);
      }
      return names;
    };
    if (!contiguous) {
      out.resourceNames = decodeNames();
      this.last.delete(typeUrl);
      return out;
    }
    const last = this.shared ? this.shared.namesOf(raw, decodeNames) : { names: decodeNames(), raw: Buffer.from(raw) };
    out.resourceNames = last.names;
    this.last.set(typeUrl, last);
    return out;
  }

  /** The last names (of any type) whose bytes are at `at` in `buf` again. */
  private repeated(buf: Buffer, at: number): LastNames | undefined {
    for (const prev of this.last.values()) {
      const end = at + prev.raw.length;
      if (end <= buf.length && buf.compare(prev.raw, 0, prev.raw.length, at, end) === 0) return prev;
    }
    return undefined;
  }
}
