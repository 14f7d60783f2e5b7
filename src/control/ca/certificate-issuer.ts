import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { parseCertificationRequest, type ParsedCertificationRequest } from '../../lib/certification-request.ts';
import { toPem } from '../../lib/pem.ts';
import { signatureAlgorithmFor, type SignatureAlgorithm } from '../../lib/signature-algorithm.ts';
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildCertificate,
  distinguishedName,
  extKeyUsageExtension,
  KEY_USAGE,
  keyUsageExtension,
  OID,
  randomSerial,
  subjectAltNameExtension,
  type AltNames,
} from '../../lib/x509-builder.ts';
import type { SigningAuthority } from './signing-authority.ts';

/**
 * Turns a verified CSR plus an authenticated identity into a signed certificate chain. The CSR
 * contributes only its public key: subject and SANs come from the caller's identity. Outcomes
 * are values; reasons are for logs, not for callers.
 */
export const DEFAULT_WORKLOAD_TTL_MS = 24 * 3600 * 1000;
export const MAX_WORKLOAD_TTL_MS = 90 * 24 * 3600 * 1000;
/** A PEM CSR for any accepted key is well under this; larger input is refused before parsing. */
export const MAX_CSR_BYTES = 64 * 1024;

export type IssueFailure = 'csr-invalid' | 'ttl-invalid' | 'sign-failed';

export type IssueResult =
  | { ok: true; certChain: string[]; notBefore: number; notAfter: number }
  | { ok: false; failure: IssueFailure; reason: string };

export interface WorkloadCertificateRequest {
  csrPem: string;
  /** The SPIFFE URI of the authenticated caller. */
  identity: string;
  /** Requested lifetime in seconds; 0 or negative → the default. */
  validitySeconds: number;
}

export interface CertificateIssuerOptions {
  authority: SigningAuthority;
  clock: Clock;
  defaultTtlMs?: number;
  maxTtlMs?: number;
}

export class CertificateIssuer {
  private readonly authority: SigningAuthority;
  private readonly clock: Clock;
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
  private readonly workloadExtensions: readonly Buffer[];
  private readonly emptySubject = distinguishedName([]);
  private readonly signingNotAfter: number;
  private readonly algorithm: SignatureAlgorithm;

  constructor(o: CertificateIssuerOptions) {
    this.authority = o.authority;
    this.clock = o.clock;
    this.defaultTtlMs = o.defaultTtlMs ?? DEFAULT_WORKLOAD_TTL_MS;
    this.maxTtlMs = o.maxTtlMs ?? MAX_WORKLOAD_TTL_MS;
    this.signingNotAfter = Date.parse(o.authority.signingCert.validTo);
    this.algorithm = signatureAlgorithmFor(o.authority.signingKey);
    this.workloadExtensions = [
      keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]),
      extKeyUsageExtension([OID.serverAuth, OID.clientAuth]),
      basicConstraintsExtension(false),
      authorityKeyIdentifierExtension(o.authority.authorityKeyId),
    ];
  }

  /** Verify a CSR and issue a workload certificate for `identity` (Istio's CreateCertificate). */
  issueWorkload(req: WorkloadCertificateRequest): IssueResult {
    const ttl = this.lifetime(req.validitySeconds);
    if (typeof ttl === 'string') return { ok: false, failure: 'ttl-invalid', reason: ttl };
    if (req.csrPem.length > MAX_CSR_BYTES) return { ok: false, failure: 'csr-invalid', reason: `CSR of ${req.csrPem.length} bytes exceeds ${MAX_CSR_BYTES}` };
    const parsed = parseCertificationRequest(req.csrPem);
    if (!parsed.ok) return { ok: false, failure: 'csr-invalid', reason: parsed.reason };
    const keyProblem = checkKeyPolicy(parsed.request);
    if (keyProblem) return { ok: false, failure: 'csr-invalid', reason: keyProblem };
    return this.sign(parsed.request.spki, { uris: [req.identity] }, ttl);
  }

  /** A TLS serving certificate for `names` (DNS names and IP literals), e.g. discovery's on 15012. */
  issueServing(publicKey: KeyObject, names: AltNames, ttlMs: number): IssueResult {
    return this.sign(publicKey.export({ format: 'der', type: 'spki' }), names, ttlMs);
  }

  private lifetime(validitySeconds: number): number | string {
    if (!Number.isFinite(validitySeconds)) return `validity_duration ${validitySeconds} is not a number`;
    if (validitySeconds <= 0) return this.defaultTtlMs;
    const ms = validitySeconds * 1000;
    if (ms > this.maxTtlMs) return `requested TTL ${validitySeconds}s is greater than the max allowed TTL ${this.maxTtlMs / 1000}s`;
    return ms;
  }

  private sign(spki: Buffer, names: AltNames, ttlMs: number): IssueResult {
    const now = Math.floor(this.clock.now() / 1000) * 1000;
    // A certificate must not outlive the certificate that signs it.
    const notAfter = Math.min(now + ttlMs, this.signingNotAfter);
    if (notAfter <= now) return { ok: false, failure: 'sign-failed', reason: 'the signing certificate has expired' };
    try {
      const certDer = buildCertificate({
        serial: randomSerial(),
        issuer: this.authority.issuerName,
        subject: this.emptySubject,
        notBefore: now,
        notAfter,
        spki,
        signingKey: this.authority.signingKey,
        algorithm: this.algorithm,
        extensions: [...this.workloadExtensions, subjectAltNameExtension(names, true)],
      });
      // as istiod answers: the leaf, the intermediates, then the root bundle as one element (every
      // root workloads should trust: two while a plug-in root is rotated)
      return { ok: true, certChain: [toPem('CERTIFICATE', certDer), ...this.authority.chainPems.slice(0, -1), this.authority.rootCertPem], notBefore: now, notAfter };
    } catch (err) {
      return { ok: false, failure: 'sign-failed', reason: (err as Error).message };
    }
  }
}

/** Istio accepts ECDSA (P-256, P-384) and RSA (>= 2048 bits) workload keys. */
export function checkKeyPolicy(req: ParsedCertificationRequest): string | undefined {
  if (req.keyType === 'ec') {
    if (req.keyDetail === 'prime256v1' || req.keyDetail === 'secp384r1') return undefined;
    return `unsupported EC curve ${String(req.keyDetail)} (P-256 or P-384 required)`;
  }
  if (req.keyType === 'rsa') {
    if (typeof req.keyDetail === 'number' && req.keyDetail >= 2048) return undefined;
    return `RSA key of ${String(req.keyDetail)} bits is too small (2048 required)`;
  }
  return `unsupported key type ${req.keyType}`;
}
