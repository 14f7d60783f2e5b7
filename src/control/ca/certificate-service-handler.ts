import { CertificateMessages } from '../../api/ca/certificate-messages.ts';
import type { GrpcMetadata } from '../../lib/grpc-wire/grpc-metadata.ts';
import type { GrpcUnaryHandler, GrpcUnaryReply } from '../../lib/grpc-wire/grpc-server.ts';
import type { GrpcPeer } from '../../lib/grpc-wire/grpc-server-stream.ts';
import { GrpcStatus } from '../../lib/grpc-wire/grpc-status.ts';
import type { Logger } from '../../lib/log.ts';
import { authenticateCaller, type Authenticator, type CallerCredentials } from './authenticators/authenticator.ts';
import type { CaMetrics } from './ca-metrics.ts';
import type { CertificateIssuer } from './certificate-issuer.ts';
import type { NodeAuthorizer } from './node-authorizer.ts';
import { structToJson } from '../xds/proxy-info.ts';

/** Request metadata key a node proxy (ztunnel) sets to get a certificate for one of its pods. */
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';

/**
 * The `CreateCertificate` handler: authenticate, verify the CSR, sign, answer. Callers get
 * Istio's opaque status messages; the detail goes to the log.
 */
export interface CertificateServiceDeps {
  authenticators: readonly Authenticator[];
  /** Who may request another identity (`ImpersonatedIdentity` metadata); none: impersonation refused. */
  nodeAuthorizer?: NodeAuthorizer;
  issuer: CertificateIssuer;
  metrics: CaMetrics;
  log: Logger;
}

/** The parts of a gRPC call that carry credentials (unary or stream). */
export interface CredentialCarrier {
  metadata: GrpcMetadata;
  peer: GrpcPeer;
}

/** Bearer token and TLS-verified client certificate of a call (unary or streaming, e.g. ADS). */
export function callerCredentials(call: CredentialCarrier): CallerCredentials {
  const out: CallerCredentials = {};
  const auth = call.metadata.get('authorization');
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) out.bearerToken = m[1];
  }
  if (call.peer.certificate) out.peerCertificate = call.peer.certificate;
  return out;
}

function status(code: number, message: string): GrpcUnaryReply {
  return { status: { code, message } };
}

export function createCertificateHandler(deps: CertificateServiceDeps): GrpcUnaryHandler {
  const { authenticators, issuer, metrics, log, nodeAuthorizer } = deps;
  const messages = new CertificateMessages();
  return async (request, call) => {
    metrics.csrCount.inc();
    const peer = call.peer.address;
    try {
      const auth = await authenticateCaller(authenticators, callerCredentials(call));
      if (!auth.ok) {
        metrics.authenticationFailureCount.inc();
        log.warn({ peer, reason: auth.reason }, 'CreateCertificate: authentication failed');
        return status(GrpcStatus.UNAUTHENTICATED, 'request authenticate failure');
      }
      let req;
      try {
        req = messages.decodeRequest(request);
      } catch (err) {
        metrics.csrParsingErrorCount.inc();
        log.warn({ peer, identity: auth.identity, reason: (err as Error).message }, 'CreateCertificate: malformed request');
        return status(GrpcStatus.INVALID_ARGUMENT, 'CSR parsing error');
      }
      const validitySeconds = Number(req.validityDuration ?? 0);
      let identity = auth.identity;
      const impersonated = structToJson(req.metadata)[IMPERSONATED_IDENTITY];
      if (typeof impersonated === 'string' && impersonated !== '') {
        const refusal = nodeAuthorizer ? nodeAuthorizer.authorizeImpersonation(auth.pod, impersonated) : 'impersonation not allowed, as node authorizer (CA_TRUSTED_NODE_ACCOUNTS) is not configured';
        if (refusal !== undefined) {
          metrics.authenticationFailureCount.inc();
          log.warn({ peer, identity: auth.identity, impersonated, reason: refusal }, 'CreateCertificate: impersonation refused');
          return status(GrpcStatus.UNAUTHENTICATED, 'request impersonation authentication failure');
        }
        identity = impersonated;
      }
      const result = issuer.issueWorkload({ csrPem: req.csr ?? '', identity, validitySeconds });
      if (!result.ok) {
        if (result.failure === 'csr-invalid') {
          metrics.csrParsingErrorCount.inc();
          log.warn({ peer, identity: auth.identity, reason: result.reason }, 'CreateCertificate: bad CSR');
          return status(GrpcStatus.INVALID_ARGUMENT, 'CSR parsing error');
        }
        if (result.failure === 'ttl-invalid') {
          metrics.csrSignErrorCount.inc({ error_type: 'TTLError' });
          log.warn({ peer, identity: auth.identity, reason: result.reason }, 'CreateCertificate: bad validity');
          return status(GrpcStatus.INVALID_ARGUMENT, 'invalid requested certificate lifetime');
        }
        metrics.csrSignErrorCount.inc({ error_type: 'CertGenError' });
        log.error({ peer, identity: auth.identity, reason: result.reason }, 'CreateCertificate: signing failed');
        return status(GrpcStatus.INTERNAL, 'failed to sign the certificate');
      }
      metrics.successCertIssuanceCount.inc();
      log.debug({ peer, identity: auth.identity, via: auth.authenticator, notAfter: new Date(result.notAfter).toISOString() }, 'issued certificate');
      return { response: messages.encodeResponse({ certChain: result.certChain }) };
    } catch (err) {
      log.error({ peer, err }, 'CreateCertificate: unexpected failure');
      return status(GrpcStatus.INTERNAL, 'internal error');
    }
  };
}
