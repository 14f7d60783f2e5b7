import protobuf from 'protobufjs';
import { CREATE_CERTIFICATE_PATH } from '../api/ca/certificate-messages.ts';
import { GrpcChannel } from '../lib/grpc-wire/grpc-channel.ts';
import { GrpcStatus, grpcStatusName } from '../lib/grpc-wire/grpc-status.ts';
import { MizzenError } from '../lib/errors.ts';

/**
 * Client for Istio's CreateCertificate. Over plaintext (15010) or TLS (15012, verifying the
 * server against the mesh root). Authenticates with a bearer token, or over mTLS with the
 * workload's current certificate (renewal). One channel per call: calls happen once per
 * rotation, and the client certificate changes between them.
 */
export interface CaClientOptions {
  /** host:port of the CA (discovery). */
  address: string;
  /** TLS to the CA; omitted → plaintext. */
  tls?: {
    /** The roots to verify the CA with; a function is read for every call (the trusted roots change when the mesh root is rotated). */
    rootCertPem: string | (() => string);
    /** Name to verify in the server certificate (default istiod.istio-system.svc). */
    serverName?: string;
  };
  /** Deadline per call (default 10 s). */
  timeoutMs?: number;
}

export interface CertificateCallCredentials {
  token?: string;
  /** Request metadata (IstioCertificateRequest.metadata), e.g. `ImpersonatedIdentity`. */
  metadata?: Readonly<Record<string, string>>;
  /** mTLS client identity (only used with `tls`). */
  clientCertificate?: { certChainPem: string; privateKeyPem: string };
}

/**
 * IstioCertificateRequest: csr = 1 (string), validity_duration = 3 (int64 seconds), metadata = 4
 * (google.protobuf.Struct of string values, e.g. ztunnel's `ImpersonatedIdentity`).
 */
export function encodeCertificateRequest(csrPem: string, validitySeconds: number, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const w = protobuf.Writer.create();
  if (csrPem) w.uint32((1 << 3) | 2).string(csrPem);
  const v = Math.max(0, Math.floor(validitySeconds));
  if (v > 0) w.uint32((3 << 3) | 0).int64(v);
  const entries = Object.entries(metadata ?? {});
  if (entries.length > 0) {
    // Struct { map<string, Value> fields = 1 }; Value { string string_value = 3 }
    w.uint32((4 << 3) | 2).fork();
    for (const [k, val] of entries) w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string(k).uint32((2 << 3) | 2).fork().uint32((3 << 3) | 2).string(val).ldelim().ldelim();
    w.ldelim();
  }
  return w.finish();
}

/** IstioCertificateResponse: cert_chain = 1 (repeated string); unknown fields skipped. Throws on bad bytes. */
export function decodeCertificateChain(bytes: Uint8Array): string[] {
  const r = protobuf.Reader.create(bytes);
  const chain: string[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) chain.push(r.string());
    else r.skipType(tag & 7);
  }
  return chain;
}

export class CaClient {
  private readonly o: CaClientOptions;

  constructor(o: CaClientOptions) {
    this.o = o;
  }

  /** Send a CSR; resolves with the PEM chain (leaf first, root last). Rejects with MizzenError. */
  async createCertificate(csrPem: string, validitySeconds: number, creds: CertificateCallCredentials): Promise<string[]> {
    const tls = this.o.tls;
    const cc = tls ? creds.clientCertificate : undefined;
    const channel = new GrpcChannel({
      target: this.o.address,
      tls: tls ? { rootCertPem: typeof tls.rootCertPem === 'function' ? tls.rootCertPem() : tls.rootCertPem, serverName: tls.serverName ?? 'istiod.istio-system.svc', clientKeyPem: cc?.privateKeyPem, clientCertPem: cc?.certChainPem } : undefined,
    });
    let result;
    try {
      result = await channel.unary(CREATE_CERTIFICATE_PATH, encodeCertificateRequest(csrPem, validitySeconds, creds.metadata), {
        metadata: creds.token ? { authorization: `Bearer ${creds.token}` } : undefined,
        deadlineMs: this.o.timeoutMs ?? 10_000,
      });
    } finally {
      channel.close();
    }
    const { status, message } = result;
    if (status.code !== GrpcStatus.OK || !message) {
      throw new MizzenError(status.code === GrpcStatus.UNAUTHENTICATED ? 'CA_UNAUTHENTICATED' : 'CA_INTERNAL', `CreateCertificate to ${this.o.address} failed: ${grpcStatusName(status.code)}: ${status.message}`, {
        cause: status,
        hint: status.code === GrpcStatus.UNAVAILABLE ? 'is discovery running and reachable?' : undefined,
      });
    }
    let chain: string[];
    try {
      chain = decodeCertificateChain(message);
    } catch (err) {
      throw new MizzenError('CA_INTERNAL', `CreateCertificate to ${this.o.address}: the response could not be parsed: ${(err as Error).message}`);
    }
    if (chain.length === 0) throw new MizzenError('CA_INTERNAL', 'the CA returned an empty certificate chain');
    return chain;
  }
}
