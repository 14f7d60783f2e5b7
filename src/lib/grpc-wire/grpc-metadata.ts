import type { IncomingHttpHeaders } from 'node:http2';

/** HTTP/2 headers that are transport, not gRPC metadata (besides the `:pseudo` headers). */
const RESERVED = new Set(['content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'user-agent', 'host']);

/**
 * The custom metadata of one gRPC call as the request headers carry it: lower-case keys, text
 * values as sent, `-bin` values base64 (decoded on request with `binary`).
 */
export class GrpcMetadata {
  private readonly headers: IncomingHttpHeaders;

  constructor(headers: IncomingHttpHeaders) {
    this.headers = headers;
  }

  /** Every value of a text key (a repeated header or a comma-joined one count the same). */
  getAll(name: string): string[] {
    const v = this.headers[name.toLowerCase()];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : [v];
  }

  /** The first value of a text key. */
  get(name: string): string | undefined {
    return this.getAll(name)[0];
  }

  /** A `-bin` key's first value, base64-decoded. */
  binary(name: string): Buffer | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : Buffer.from(v, 'base64');
  }

  /** Custom metadata keys (no pseudo-headers, no transport headers). */
  keys(): string[] {
    return Object.keys(this.headers).filter((k) => !k.startsWith(':') && !RESERVED.has(k));
  }
}
