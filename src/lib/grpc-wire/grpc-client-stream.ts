import * as http2 from 'node:http2';
import { frameHeader, frameMessage, GrpcMessageReader, isFramingError } from './grpc-message-framing.ts';
import { decodeGrpcMessage, GrpcStatus, grpcStatusFromHttp } from './grpc-status.ts';
import { formatGrpcTimeout } from './grpc-timeout.ts';

/** Custom metadata sent as request headers (ASCII values; keys lower-case). */
export type CallMetadata = Record<string, string>;

/** Metadata given per call, or produced per call (e.g. a token read from a file). */
export type CallMetadataSource = CallMetadata | (() => CallMetadata | Promise<CallMetadata>);

/** Response headers or trailers, multi-valued fields joined with ', '. */
export type GrpcHeaders = Record<string, string>;

/** How a call ended, as a value: code, decoded grpc-message, and the trailers (or trailers-only headers). */
export interface GrpcStreamStatus {
  code: number;
  message: string;
  trailers: GrpcHeaders;
}

export interface GrpcStreamOptions {
  metadata?: CallMetadataSource;
  /** Whole-call deadline: sent as grpc-timeout, and the call ends locally with DEADLINE_EXCEEDED. */
  deadlineMs?: number;
  /** Largest accepted response message (default 4 MiB). */
  maxReceiveMessageBytes?: number;
  onHeaders?: (headers: GrpcHeaders) => void;
  onMessage?: (message: Buffer) => void;
  /**
   * Instead of onMessage: each response message as the parts it arrived in, never assembled
   * (for a consumer that reads only the head of large messages, e.g. a load simulator).
   */
  onMessagePart?: (part: Buffer, last: boolean) => void;
  /** Called exactly once, after every message. */
  onStatus?: (status: GrpcStreamStatus) => void;
  /** The transport can take more writes after write() returned false. */
  onDrain?: () => void;
}

/** What the channel hands a stream to start its HTTP/2 request (or why it could not). */
export type RequestStarter = (headers: http2.OutgoingHttpHeaders) => http2.ClientHttp2Stream | Error;

/** Messages at most this large are copied behind their prefix (one write); larger ones go as two. */
const COPY_LIMIT = 16 * 1024;

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY } = http2.constants;

/** Flatten node's header object (minus pseudo-headers) into string values. */
export function plainHeaders(h: http2.IncomingHttpHeaders): GrpcHeaders {
  const out: GrpcHeaders = {};
  for (const k of Object.keys(h)) {
    if (k.startsWith(':')) continue;
    const v = h[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/**
 * One gRPC call on an HTTP/2 stream (client side): writes framed messages, reassembles response
 * messages with GrpcMessageReader, and reports exactly one status: from trailers (or a
 * trailers-only response), from a bare HTTP status, from RST_STREAM, UNAVAILABLE when the
 * connection failed, CANCELLED on cancel(), DEADLINE_EXCEEDED when the deadline passed.
 * Writes before the request is open (metadata still being produced) are queued.
 */
export class GrpcClientStream {
  private readonly o: GrpcStreamOptions;
  private readonly reader: GrpcMessageReader;
  private req: http2.ClientHttp2Stream | undefined;
  private queued: (Buffer | null)[] | undefined = [];
  private done = false;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private httpStatus: number | undefined;
  private status: GrpcStreamStatus | undefined;
  private error: Error | undefined;

  constructor(path: string, baseHeaders: http2.OutgoingHttpHeaders, start: RequestStarter, o: GrpcStreamOptions) {
    this.o = o;
    this.reader = new GrpcMessageReader({ maxMessageBytes: o.maxReceiveMessageBytes });
    if (o.deadlineMs !== undefined) {
      this.deadlineTimer = setTimeout(() => this.abort(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), Math.max(0, o.deadlineMs));
    }
    const md = o.metadata;
    const begin = (metadata: CallMetadata): void => {
      if (this.done) return;
      const headers: http2.OutgoingHttpHeaders = { ...metadata, ...baseHeaders, ':path': path };
      if (o.deadlineMs !== undefined) headers['grpc-timeout'] = formatGrpcTimeout(o.deadlineMs);
      const req = start(headers);
      if (req instanceof Error) {
        this.finish({ code: GrpcStatus.UNAVAILABLE, message: req.message, trailers: {} });
        return;
      }
      this.attach(req);
    };
    if (typeof md === 'function') {
      let produced: CallMetadata | Promise<CallMetadata>;
      try {
        produced = md();
      } catch (err) {
        this.failMetadata(err);
        return;
      }
      if (produced instanceof Promise) produced.then(begin, (err: unknown) => this.failMetadata(err));
      else begin(produced);
    } else begin(md ?? {});
  }

  /** Send one message. False means the transport buffers: wait for onDrain before writing much more. */
  write(message: Uint8Array): boolean {
    if (this.done) return false;
    const chunks = message.length <= COPY_LIMIT ? [frameMessage(message)] : [frameHeader(message.length), Buffer.from(message.buffer, message.byteOffset, message.length)];
    if (this.req === undefined) {
      this.queued?.push(...chunks);
      return true;
    }
    let ok = true;
    for (const c of chunks) ok = this.req.write(c);
    return ok;
  }

  /** Half-close: no more messages from this side. */
  end(): void {
    if (this.done) return;
    if (this.req === undefined) this.queued?.push(null);
    else this.req.end();
  }

  /** End the call locally: the server sees RST_STREAM(CANCEL); status CANCELLED. */
  cancel(): void {
    this.abort(GrpcStatus.CANCELLED, 'Cancelled on client');
  }

  /** True once the status was reported. */
  get finished(): boolean {
    return this.done;
  }

  private abort(code: number, message: string): void {
    if (this.done) return;
    this.finish({ code, message, trailers: {} });
  }

  private failMetadata(err: unknown): void {
    this.finish({ code: GrpcStatus.UNAVAILABLE, message: `getting call metadata failed: ${(err as Error)?.message ?? String(err)}`, trailers: {} });
  }

  private attach(req: http2.ClientHttp2Stream): void {
    this.req = req;
    const q = this.queued ?? [];
    this.queued = undefined;
    for (const c of q) {
      if (c === null) req.end();
      else req.write(c);
    }
    req.on('response', (headers: http2.IncomingHttpHeaders) => {
      this.httpStatus = Number(headers[':status']);
      const plain = plainHeaders(headers);
      if (plain['grpc-status'] !== undefined) this.status = statusFrom(plain);
      else this.o.onHeaders?.(plain);
    });
    req.on('data', (chunk: Buffer) => {
      if (this.done) return;
      if (this.httpStatus !== 200) return; // a non-gRPC body; the HTTP status decides
      if (this.o.onMessagePart) {
        const parts = this.reader.pushParts(chunk);
        if (isFramingError(parts)) return this.abort(parts.code, parts.message);
        for (const p of parts) {
          if (this.done) return;
          this.o.onMessagePart(p.data, p.last);
        }
        return;
      }
      const r = this.reader.push(chunk);
      if (isFramingError(r)) {
        this.abort(r.code, r.message);
        return;
      }
      for (const m of r) {
        if (this.done) return;
        this.o.onMessage?.(m);
      }
    });
    req.on('trailers', (trailers: http2.IncomingHttpHeaders) => {
      this.status = statusFrom(plainHeaders(trailers));
    });
    req.on('drain', () => this.o.onDrain?.());
    req.on('error', (err: Error) => {
      this.error ??= err;
    });
    // The server's END_STREAM (after every 'data'): the status is known even while our side is open.
    req.on('end', () => {
      if (this.status) this.finish(this.status, http2.constants.NGHTTP2_NO_ERROR);
    });
    req.on('close', () => this.onClose(req));
  }

  private onClose(req: http2.ClientHttp2Stream): void {
    if (this.done) return;
    if (this.status) return this.finish(this.status);
    const hs = this.httpStatus;
    if (hs !== undefined && hs !== 200) {
      return this.finish({ code: grpcStatusFromHttp(hs), message: `Received HTTP status code ${hs}`, trailers: {} });
    }
    const err = this.error as (Error & { code?: string }) | undefined;
    if (err?.code === 'ERR_HTTP2_SESSION_ERROR' || err?.code === 'ERR_HTTP2_GOAWAY_SESSION') {
      // The connection went away under the call (server shutdown, GOAWAY): the call may be retried.
      return this.finish({ code: GrpcStatus.UNAVAILABLE, message: `connection dropped: ${err.message}`, trailers: {} });
    }
    const rst = req.rstCode;
    if (rst === NGHTTP2_REFUSED_STREAM) return this.finish({ code: GrpcStatus.UNAVAILABLE, message: 'Stream refused by server', trailers: {} });
    if (rst === NGHTTP2_CANCEL) return this.finish({ code: GrpcStatus.CANCELLED, message: 'Call cancelled', trailers: {} });
    if (rst === NGHTTP2_ENHANCE_YOUR_CALM) return this.finish({ code: GrpcStatus.RESOURCE_EXHAUSTED, message: 'Bandwidth exhausted or memory limit exceeded', trailers: {} });
    if (rst === NGHTTP2_INADEQUATE_SECURITY) return this.finish({ code: GrpcStatus.PERMISSION_DENIED, message: 'Protocol not secure enough', trailers: {} });
    if (this.error || hs === undefined) {
      return this.finish({ code: GrpcStatus.UNAVAILABLE, message: this.error?.message ?? 'connection closed before a response', trailers: {} });
    }
    this.finish({ code: GrpcStatus.INTERNAL, message: `Received RST_STREAM with code ${rst ?? 0} (call ended without gRPC status)`, trailers: {} });
  }

  private finish(status: GrpcStreamStatus, rstCode: number = NGHTTP2_CANCEL): void {
    if (this.done) return;
    this.done = true;
    this.queued = undefined;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    const req = this.req;
    if (req && !req.closed) req.close(rstCode);
    this.o.onStatus?.(status);
  }
}

function statusFrom(h: GrpcHeaders): GrpcStreamStatus {
  const raw = h['grpc-status'];
  const code = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : GrpcStatus.UNKNOWN;
  const message = raw === undefined ? 'response ended without grpc-status' : decodeGrpcMessage(h['grpc-message'] ?? '');
  return { code, message, trailers: h };
}
