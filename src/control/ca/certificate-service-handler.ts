import * as grpc from '@grpc/grpc-js';
import type { IstioCertificateRequest, IstioCertificateResponse } from '../../api/ca/certificate-service.ts';
import type { Logger } from '../../lib/log.ts';
import { authenticateCaller, type Authenticator, type CallerCredentials } from './authenticators/authenticator.ts';
import type { CaMetrics } from './ca-metrics.ts';
import type { CertificateIssuer } from './certificate-issuer.ts';

/**
 * The `CreateCertificate` handler: authenticate, verify the CSR, sign, answer. Callers get
 * Istio's opaque status messages; the detail goes to the log.
 */
export interface CertificateServiceDeps {
  authenticators: readonly Authenticator[];
  issuer: CertificateIssuer;
  metrics: CaMetrics;
  log: Logger;
}

type Call = grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>;

/** The parts of any grpc-js server call that carry credentials (unary or stream). */
export interface CredentialCarrier {
  metadata: grpc.Metadata;
  getAuthContext?(): { sslPeerCertificate?: { raw?: Buffer } } | null;
}

/** Bearer token and TLS-verified client certificate of a call (unary or streaming, e.g. ADS). */
export function callerCredentials(call: CredentialCarrier): CallerCredentials {
  const out: CallerCredentials = {};
  const auth = call.metadata.get('authorization')[0];
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) out.bearerToken = m[1];
  }
  const peer = call.getAuthContext?.()?.sslPeerCertificate;
  if (peer?.raw) out.peerCertificate = peer.raw;
  return out;
}

function status(code: grpc.status, details: string): Partial<grpc.StatusObject> {
  return { code, details };
}

export function createCertificateHandler(deps: CertificateServiceDeps): grpc.handleUnaryCall<IstioCertificateRequest, IstioCertificateResponse> {
  const { authenticators, issuer, metrics, log } = deps;
  return (call, callback) => {
    metrics.csrCount.inc();
    const peer = call.getPeer();
    void authenticateCaller(authenticators, callerCredentials(call)).then(
      (auth) => {
        if (!auth.ok) {
          metrics.authenticationFailureCount.inc();
          log.warn({ peer, reason: auth.reason }, 'CreateCertificate: authentication failed');
          callback(status(grpc.status.UNAUTHENTICATED, 'request authenticate failure'));
          return;
        }
        const req = call.request;
        const validitySeconds = Number(req.validityDuration ?? 0);
        const result = issuer.issueWorkload({ csrPem: req.csr ?? '', identity: auth.identity, validitySeconds });
        if (!result.ok) {
          if (result.failure === 'csr-invalid') {
            metrics.csrParsingErrorCount.inc();
            log.warn({ peer, identity: auth.identity, reason: result.reason }, 'CreateCertificate: bad CSR');
            callback(status(grpc.status.INVALID_ARGUMENT, 'CSR parsing error'));
          } else if (result.failure === 'ttl-invalid') {
            metrics.csrSignErrorCount.inc({ error_type: 'TTLError' });
            log.warn({ peer, identity: auth.identity, reason: result.reason }, 'CreateCertificate: bad validity');
            callback(status(grpc.status.INVALID_ARGUMENT, 'invalid requested certificate lifetime'));
          } else {
            metrics.csrSignErrorCount.inc({ error_type: 'CertGenError' });
            log.error({ peer, identity: auth.identity, reason: result.reason }, 'CreateCertificate: signing failed');
            callback(status(grpc.status.INTERNAL, 'failed to sign the certificate'));
          }
          return;
        }
        metrics.successCertIssuanceCount.inc();
        log.debug({ peer, identity: auth.identity, via: auth.authenticator, notAfter: new Date(result.notAfter).toISOString() }, 'issued certificate');
        callback(null, { certChain: result.certChain });
      },
      (err: unknown) => {
        log.error({ peer, err }, 'CreateCertificate: unexpected failure');
        callback(status(grpc.status.INTERNAL, 'internal error'));
      },
    );
  };
}
