import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const CERTIFICATE_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';
export const CREATE_CERTIFICATE_PATH = `/${CERTIFICATE_SERVICE_NAME}/CreateCertificate`;

export interface IstioCertificateRequest {
  csr: string;
  /** Seconds; proto-loader hands int64 over as a string (longs: String). */
  validityDuration?: string | number;
  metadata?: unknown;
}

export interface IstioCertificateResponse {
  certChain: string[];
}

const PROTO_PATH = fileURLToPath(new URL('./istio-ca.proto', import.meta.url));

/**
 * Wire codec of `IstioCertificateRequest`/`IstioCertificateResponse` with protobufjs (from the
 * same .proto as certificate-service.ts, without loading a gRPC library): what discovery's lean
 * gRPC server needs to serve CreateCertificate.
 */
export class CertificateMessages {
  private readonly request: protobuf.Type;
  private readonly response: protobuf.Type;

  constructor() {
    const root = protobuf.loadSync(PROTO_PATH);
    this.request = root.lookupType('istio.v1.auth.IstioCertificateRequest');
    this.response = root.lookupType('istio.v1.auth.IstioCertificateResponse');
  }

  /** Decode a request (int64 as a string, like proto-loader's longs: String); throws on bad bytes. */
  decodeRequest(bytes: Uint8Array): IstioCertificateRequest {
    const o = this.request.toObject(this.request.decode(bytes), { longs: String, defaults: true }) as { csr: string; validityDuration: string; metadata?: unknown };
    return { csr: o.csr, validityDuration: o.validityDuration, ...(o.metadata ? { metadata: o.metadata } : {}) };
  }

  encodeResponse(response: IstioCertificateResponse): Uint8Array {
    return this.response.encode(this.response.fromObject({ certChain: response.certChain })).finish();
  }
}
