import type { Registry } from 'prom-client';
import { CREATE_CERTIFICATE_PATH } from '../../api/ca/certificate-messages.ts';
import type { GrpcServer, GrpcServerTls } from '../../lib/grpc-wire/grpc-server.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { authenticateCaller, type AuthenticationResult, type Authenticator, type CallerCredentials } from './authenticators/authenticator.ts';
import { ClientCertificateAuthenticator } from './authenticators/client-certificate-authenticator.ts';
import { JwtServiceAccountAuthenticator } from './authenticators/jwt-service-account-authenticator.ts';
import { KubeTokenReviewAuthenticator, type TokenReviewer } from './authenticators/kube-token-review-authenticator.ts';
import { createCaMetrics } from './ca-metrics.ts';
import { CertificateIssuer } from './certificate-issuer.ts';
import { createCertificateHandler } from './certificate-service-handler.ts';
import type { NodeAuthorizer } from './node-authorizer.ts';
import { loadSigningAuthority, type SigningAuthority } from './signing-authority.ts';
import { loadOrCreateTokenKey } from './service-account-token.ts';
import { ServingCertificateProvider } from './serving-certificate-provider.ts';

/**
 * The mesh CA as discovery's composition root uses it: Istio's CreateCertificate service to add
 * to the 15010/15012 gRPC servers, TLS credentials for 15012 (a serving certificate from the same
 * CA, client certificates requested but optional), and the root for distribution.
 */
export interface CertificateAuthorityOptions {
  caDir: string;
  trustDomain?: string;
  clock: Clock;
  log: Logger;
  /** The Prometheus registry to register citadel_* metrics on. */
  metrics: Registry;
  defaultTtlMs?: number;
  maxTtlMs?: number;
  /** Kubernetes mode: check bearer tokens with TokenReview (in addition to local tokens). */
  tokenReviewer?: TokenReviewer;
  /** Node proxies (ztunnel) requesting their pods' identities; impersonation is refused without it. */
  nodeAuthorizer?: NodeAuthorizer;
}

export interface CertificateAuthority {
  /** Register istio.v1.auth.IstioCertificateService on a gRPC server (call once per server). */
  addToServer(server: GrpcServer): void;
  /**
   * TLS for 15012: a serving certificate with SAN istiod.istio-system.svc + `hosts`, renewed at
   * half its lifetime (the listener swaps it live); client certificates requested, optional.
   */
  servingTls(hosts: readonly string[]): GrpcServerTls;
  /** The root certificate (PEM) proxies should trust. */
  rootCertPem(): string;
  /** Root plus intermediates (PEM), what a client certificate chains to. */
  trustBundlePem(): string;
  /**
   * Authenticate a caller with the CA's authenticators (mesh client certificate, local token,
   * TokenReview), e.g. for xDS on 15012: `ca.authenticate(callerCredentials(stream))`.
   */
  authenticate(credentials: CallerCredentials): Promise<AuthenticationResult>;
  /**
   * Re-read the keys in the CA directory (a plug-in CA was replaced): new certificates, the
   * serving certificates of 15012 and the webhooks, the trust bundle and the client-certificate
   * authenticator follow. Throws (keeping the CA in force) when the new files are invalid.
   * `false` when nothing changed.
   */
  reload(): boolean;
  readonly trustDomain: string;
  readonly issuer: CertificateIssuer;
  readonly authority: SigningAuthority;
  close(): void;
}

export function createCertificateAuthority(o: CertificateAuthorityOptions): CertificateAuthority {
  const trustDomain = o.trustDomain ?? 'cluster.local';
  const tokenKey = loadOrCreateTokenKey(o.caDir);
  // Everything that follows from the signing keys, swapped as a whole by reload().
  const build = (authority: SigningAuthority) => {
    const issuer = new CertificateIssuer({ authority, clock: o.clock, defaultTtlMs: o.defaultTtlMs, maxTtlMs: o.maxTtlMs });
    const authenticators: Authenticator[] = [
      new ClientCertificateAuthenticator({ issuer: authority.signingCert, trustDomain, clock: o.clock }),
      new JwtServiceAccountAuthenticator({ publicKey: tokenKey.publicKey, trustDomain, clock: o.clock }),
    ];
    if (o.tokenReviewer) authenticators.push(new KubeTokenReviewAuthenticator({ review: o.tokenReviewer, trustDomain }));
    const chainNotAfter = Math.min(Date.parse(authority.signingCert.validTo), Date.parse(authority.rootCert.validTo));
    const handler = createCertificateHandler({ authenticators, issuer, metrics, log: o.log, ...(o.nodeAuthorizer ? { nodeAuthorizer: o.nodeAuthorizer } : {}) });
    // every trusted root, then the intermediates (root to signer)
    const trustBundle = authority.rootCertPem + authority.chainPems.slice(0, -1).reverse().join('');
    return { authority, issuer, authenticators, chainNotAfter, handler, trustBundle };
  };
  let state: ReturnType<typeof build> | undefined;
  const metrics = createCaMetrics(o.metrics, o.clock, () => ({ rootNotAfter: Date.parse(state!.authority.rootCert.validTo), chainNotAfter: state!.chainNotAfter }));
  state = build(loadSigningAuthority({ caDir: o.caDir, trustDomain, now: o.clock.now(), log: o.log }));
  const providers: ServingCertificateProvider[] = [];

  return {
    trustDomain,
    get issuer() {
      return state!.issuer;
    },
    get authority() {
      return state!.authority;
    },
    addToServer(server: GrpcServer): void {
      server.addUnary(CREATE_CERTIFICATE_PATH, (request, call) => state!.handler(request, call));
    },
    servingTls(hosts: readonly string[]): GrpcServerTls {
      const provider = new ServingCertificateProvider({ issuer: state!.issuer, clock: o.clock, log: o.log, hosts, caBundlePem: state!.trustBundle });
      providers.push(provider);
      return provider;
    },
    authenticate: (credentials: CallerCredentials) => authenticateCaller(state!.authenticators, credentials),
    rootCertPem: () => state!.authority.rootCertPem,
    trustBundlePem: () => state!.trustBundle,
    reload(): boolean {
      const next = loadSigningAuthority({ caDir: o.caDir, trustDomain, now: o.clock.now(), log: o.log });
      const same = next.chainPems.join('') === state!.authority.chainPems.join('') && next.rootCertPem === state!.authority.rootCertPem && next.signingKey.equals(state!.authority.signingKey);
      if (same) return false;
      state = build(next);
      for (const p of providers) p.reissue(state.issuer, state.trustBundle);
      o.log.info({ kind: next.kind, root: next.rootCert.subject.replace(/\n/g, ','), signer: next.signingCert.subject.replace(/\n/g, ',') }, 'CA reloaded: new certificates are signed with the new keys');
      return true;
    },
    close(): void {
      for (const p of providers) p.close();
    },
  };
}
