import { randomFillSync } from 'node:crypto';
import type { HeaderList } from '../http1/header-list.ts';

/** The context a span continues (from B3 or W3C headers), ids as lowercase hex. */
export interface ParentContext {
  traceId: string;
  spanId: string;
  /** Sampling flag carried by the headers; undefined when they leave it to us. */
  sampled: boolean | undefined;
  /** W3C tracestate, passed through. */
  traceState: string;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Random span and trace ids from a pooled buffer (one randomFillSync per 512 ids, not one per
 * request): ids are 64-bit (16 hex) or 128-bit (32 hex), never all zero.
 */
export class IdGenerator {
  private readonly pool = Buffer.allocUnsafe(4096);
  private offset = 4096;

  /** 16 hex characters. */
  id64(): string {
    if (this.offset + 8 > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const p = this.pool;
    const o = this.offset;
    this.offset += 8;
    if (p[o] === 0 && p[o + 1] === 0 && p[o + 2] === 0 && p[o + 3] === 0 && p[o + 4] === 0 && p[o + 5] === 0 && p[o + 6] === 0 && p[o + 7] === 0) p[o + 7] = 1;
    return HEX[p[o]!]! + HEX[p[o + 1]!]! + HEX[p[o + 2]!]! + HEX[p[o + 3]!]! + HEX[p[o + 4]!]! + HEX[p[o + 5]!]! + HEX[p[o + 6]!]! + HEX[p[o + 7]!]!;
  }

  /** First 8 hex characters of a request id as an integer (Envoy's UUID toInteger), or a random one. */
  random32(): number {
    if (this.offset + 4 > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const v = this.pool.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
}

const HEX_RE = /^[0-9a-f]+$/i;

function isHexId(s: string | undefined, lengths: readonly number[]): s is string {
  return s !== undefined && lengths.includes(s.length) && HEX_RE.test(s) && !/^0+$/.test(s);
}

/**
 * B3 context as Envoy's Zipkin tracer reads it: the single `b3` header first
 * (`TRACEID-SPANID[-SAMPLED[-PARENTID]]` or just the sampling flag), else `x-b3-traceid` /
 * `x-b3-spanid` / `x-b3-sampled`. `sampledOnly` reports a sampling flag without ids.
 */
export function extractB3(h: HeaderList): { context: ParentContext | undefined; sampled: boolean | undefined } {
  const single = h.get('b3');
  if (single !== undefined) {
    const parts = single.split('-');
    if (parts.length === 1) return { context: undefined, sampled: samplingFlag(parts[0]) };
    if (parts.length >= 2 && isHexId(parts[0], [16, 32]) && isHexId(parts[1], [16])) {
      const sampled = parts.length >= 3 ? samplingFlag(parts[2]) : undefined;
      return { context: { traceId: parts[0].toLowerCase(), spanId: parts[1].toLowerCase(), sampled, traceState: '' }, sampled };
    }
    return { context: undefined, sampled: undefined };
  }
  const s = h.get('x-b3-sampled');
  const sampled = s === undefined ? undefined : s === '1' || s === 'true' || s === 'd';
  const traceId = h.get('x-b3-traceid');
  const spanId = h.get('x-b3-spanid');
  if (isHexId(traceId, [16, 32]) && isHexId(spanId, [16])) return { context: { traceId: traceId.toLowerCase(), spanId: spanId.toLowerCase(), sampled, traceState: '' }, sampled };
  return { context: undefined, sampled };
}

function samplingFlag(c: string | undefined): boolean | undefined {
  if (c === '0') return false;
  if (c === '1' || c === 'd') return true;
  return undefined;
}

/** W3C `traceparent` (`00-TRACEID32-SPANID16-FLAGS`) and `tracestate`. */
export function extractW3c(h: HeaderList): ParentContext | undefined {
  const tp = h.get('traceparent');
  if (tp === undefined || tp.length < 55) return undefined;
  const parts = tp.split('-');
  if (parts.length < 4 || parts[0] === 'ff' || !/^[0-9a-f]{2}$/.test(parts[0]!) || (parts[0] === '00' && parts.length !== 4)) return undefined;
  if (!isHexId(parts[1], [32]) || !isHexId(parts[2], [16]) || !/^[0-9a-f]{2}$/.test(parts[3]!)) return undefined;
  return { traceId: parts[1]!, spanId: parts[2]!, sampled: (Number.parseInt(parts[3]!, 16) & 1) === 1, traceState: h.get('tracestate') ?? '' };
}

/** Envoy's Zipkin injection: `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid` when there is a parent, `x-b3-sampled`. */
export function injectB3(h: HeaderList, traceId: string, spanId: string, parentId: string, sampled: boolean): void {
  h.set('x-b3-traceid', traceId);
  h.set('x-b3-spanid', spanId);
  if (parentId) h.set('x-b3-parentspanid', parentId);
  h.set('x-b3-sampled', sampled ? '1' : '0');
}

/** W3C `traceparent` (version 00) and the incoming `tracestate`. */
export function injectW3c(h: HeaderList, traceId: string, spanId: string, sampled: boolean, traceState: string): void {
  h.set('traceparent', `00-${traceId.padStart(32, '0')}-${spanId}-${sampled ? '01' : '00'}`);
  if (traceState) h.set('tracestate', traceState);
}

/** Envoy's trace reason packed into a UUID x-request-id (the version nibble, index 14). */
export type TraceReason = 'none' | 'sampled' | 'forced' | 'client';

export function traceReasonOf(requestId: string): TraceReason {
  if (requestId.length !== 36) return 'none';
  switch (requestId.charCodeAt(14)) {
    case 57: return 'sampled'; // '9'
    case 97: return 'forced'; // 'a'
    case 98: return 'client'; // 'b'
    default: return 'none';
  }
}

const REASON_CHAR: Record<TraceReason, string> = { none: '4', sampled: '9', forced: 'a', client: 'b' };

/** The request id with `reason` packed in (unchanged when it is not a UUID). */
export function withTraceReason(requestId: string, reason: TraceReason): string {
  if (requestId.length !== 36 || requestId.charCodeAt(8) !== 45) return requestId;
  const c = REASON_CHAR[reason];
  return requestId[14] === c ? requestId : requestId.slice(0, 14) + c + requestId.slice(15);
}

/** Envoy's UUID request id as an integer for sampling: its first 8 hex digits (undefined when not hex). */
export function requestIdInteger(requestId: string): number | undefined {
  if (requestId.length < 8) return undefined;
  const v = Number.parseInt(requestId.slice(0, 8), 16);
  return Number.isNaN(v) || !HEX_RE.test(requestId.slice(0, 8)) ? undefined : v;
}
