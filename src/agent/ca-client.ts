import * as grpc from '@grpc/grpc-js';
import { loadCertificateService, type CertificateServiceDefinitions, type IstioCertificateResponse } from '../api/ca/certificate-service.ts';
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
    rootCertPem: string;
    /** Name to verify in the server certificate (default istiod.istio-system.svc). */
    serverName?: string;
  };
  /** Deadline per call (default 10 s). */
  timeoutMs?: number;
}

export interface CertificateCallCredentials {
  token?: string;
  /** mTLS client identity (only used with `tls`). */
  clientCertificate?: { certChainPem: string; privateKeyPem: string };
}

export class CaClient {
  private readonly o: CaClientOptions;
  private readonly defs: CertificateServiceDefinitions;

  constructor(o: CaClientOptions) {
    this.o = o;
    this.defs = loadCertificateService();
  }

  /** Send a CSR; resolves with the PEM chain (leaf first, root last). Rejects with MizzenError. */
  createCertificate(csrPem: string, validitySeconds: number, creds: CertificateCallCredentials): Promise<string[]> {
    const tls = this.o.tls;
    let channelCreds: grpc.ChannelCredentials;
    const options: grpc.ChannelOptions = { 'grpc.max_reconnect_backoff_ms': 1000 };
    if (tls) {
      const cc = creds.clientCertificate;
      channelCreds = grpc.credentials.createSsl(
        Buffer.from(tls.rootCertPem),
        cc ? Buffer.from(cc.privateKeyPem) : null,
        cc ? Buffer.from(cc.certChainPem) : null,
      );
      options['grpc.ssl_target_name_override'] = tls.serverName ?? 'istiod.istio-system.svc';
      options['grpc.default_authority'] = tls.serverName ?? 'istiod.istio-system.svc';
    } else channelCreds = grpc.credentials.createInsecure();
    const client = new this.defs.Client(this.o.address, channelCreds, options);
    const metadata = new grpc.Metadata();
    if (creds.token) metadata.set('authorization', `Bearer ${creds.token}`);
    const deadline = new Date(Date.now() + (this.o.timeoutMs ?? 10_000));
    return new Promise<string[]>((resolve, reject) => {
      (client as unknown as Record<string, CallFn>).CreateCertificate(
        { csr: csrPem, validityDuration: String(Math.max(0, Math.floor(validitySeconds))) },
        metadata,
        { deadline },
        (err, res) => {
          client.close();
          if (err) {
            reject(
              new MizzenError(err.code === grpc.status.UNAUTHENTICATED ? 'CA_UNAUTHENTICATED' : 'CA_INTERNAL', `CreateCertificate to ${this.o.address} failed: ${grpc.status[err.code] ?? err.code}: ${err.details}`, {
                cause: err,
                hint: err.code === grpc.status.UNAVAILABLE ? 'is discovery running and reachable?' : undefined,
              }),
            );
            return;
          }
          const chain = res?.certChain ?? [];
          if (chain.length === 0) reject(new MizzenError('CA_INTERNAL', 'the CA returned an empty certificate chain'));
          else resolve(chain);
        },
      );
    });
  }
}

type CallFn = (
  req: unknown,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: IstioCertificateResponse) => void,
) => void;
