import { X509Certificate } from 'node:crypto';
import { ExponentialBackoff, type BackoffOptions } from '../lib/backoff.ts';
import { certificateSans, certificateValidity } from '../lib/certificate-info.ts';
import { splitCertificatePems } from '../lib/pem.ts';
import type { Clock, TimerHandle } from '../lib/clock.ts';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { CaClient } from './ca-client.ts';
import type { SecretCache, WorkloadSecret } from './secret-cache.ts';
import { createWorkloadCsr, generateWorkloadKey } from './workload-key.ts';

/**
 * Keeps a workload certificate in the SecretCache, as istio-agent's SecretManager does: a new key
 * and CSR per rotation, renewal at 50 % of the lifetime minus a random jitter, exponential
 * backoff when the CA fails (never longer than a quarter of the validity left, 5 s once expired:
 * `retryCeiling`), and the still-valid certificate kept (and served) meanwhile.
 * Renewal authenticates with the current certificate over mTLS when the CA connection is TLS,
 * and with the token when one is available.
 */
export type RotatorEvent =
  | { type: 'issued'; secret: WorkloadSecret; nextRotationAt: number }
  | { type: 'failed'; error: string; retryInMs: number; keptCurrent: boolean };

export interface CertificateRotatorOptions {
  client: CaClient;
  cache: SecretCache;
  clock: Clock;
  log: Logger;
  /** Whether the CA connection is TLS (so the current certificate can authenticate renewals). */
  mtls?: boolean;
  /** SPIFFE URI to request in the CSR (advisory: the CA decides). */
  identity?: string;
  /**
   * Request `identity` on behalf of a pod (IstioCertificateRequest metadata
   * `ImpersonatedIdentity`), as ztunnel does for the pods of its node: the caller authenticates as
   * itself (token), never with the pod's certificate.
   */
  impersonate?: boolean;
  /** The bearer token for the CA, read afresh for every request (tokens expire). */
  token?: () => string | undefined | Promise<string | undefined>;
  /** Requested lifetime in seconds (0 = the CA's default, 24 h). */
  validitySeconds?: number;
  /** Fraction of the lifetime after which to renew (default 0.5). */
  rotationRatio?: number;
  /** Up to this fraction of the lifetime is subtracted at random from the renewal time (default 0.05). */
  jitterRatio?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  onEvent?: (e: RotatorEvent) => void;
}

export class CertificateRotator {
  private readonly o: CertificateRotatorOptions;
  private readonly backoff: ExponentialBackoff;
  private readonly random: () => number;
  private timer: TimerHandle | undefined;
  private inFlight = false;
  private closed = false;
  private readonly readyWaiters: { resolve: (s: WorkloadSecret) => void; reject: (e: Error) => void }[] = [];

  constructor(o: CertificateRotatorOptions) {
    this.o = o;
    this.random = o.random ?? Math.random;
    this.backoff = new ExponentialBackoff({ random: this.random, ...o.backoff });
  }

  /** Fetch the first certificate now; rotation continues on its own until close(). */
  start(): void {
    void this.rotate();
  }

  /** Resolves with the first certificate (at once if the cache already has one). */
  ready(): Promise<WorkloadSecret> {
    const cur = this.o.cache.current();
    if (cur) return Promise.resolve(cur);
    if (this.closed) return Promise.reject(new MizzenError('CA_INTERNAL', 'certificate rotator closed'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    for (const w of this.readyWaiters.splice(0)) w.reject(new MizzenError('CA_INTERNAL', 'certificate rotator closed before a certificate was issued'));
  }

  private schedule(delayMs: number): void {
    this.timer?.cancel();
    if (this.closed) return;
    this.timer = this.o.clock.setTimer(() => void this.rotate(), Math.max(0, delayMs));
  }

  private async rotate(): Promise<void> {
    if (this.closed || this.inFlight) return;
    this.inFlight = true;
    try {
      const secret = await this.fetch();
      if (this.closed) return;
      this.backoff.reset();
      this.o.cache.update(secret);
      const lifetime = secret.notAfter - secret.notBefore;
      const ratio = this.o.rotationRatio ?? 0.5;
      const jitter = (this.o.jitterRatio ?? 0.05) * lifetime * this.random();
      const at = secret.notBefore + lifetime * ratio - jitter;
      this.o.log.info({ identity: secret.identity, notAfter: new Date(secret.notAfter).toISOString(), nextRotation: new Date(at).toISOString() }, 'workload certificate issued');
      this.schedule(at - this.o.clock.now());
      for (const w of this.readyWaiters.splice(0)) w.resolve(secret);
      this.o.onEvent?.({ type: 'issued', secret, nextRotationAt: at });
    } catch (err) {
      if (this.closed) return;
      const current = this.o.cache.current();
      const now = this.o.clock.now();
      const keptCurrent = current !== undefined && current.notAfter > now;
      const retryInMs = Math.min(this.backoff.next(), retryCeiling(current && current.notAfter - now));
      this.o.log.warn(
        { err: errorMessage(err), retryInMs, keptCurrent, currentNotAfter: current && new Date(current.notAfter).toISOString() },
        keptCurrent ? 'certificate renewal failed; keeping the still-valid certificate' : 'cannot get a workload certificate',
      );
      this.schedule(retryInMs);
      this.o.onEvent?.({ type: 'failed', error: errorMessage(err), retryInMs, keptCurrent });
    } finally {
      this.inFlight = false;
    }
  }

  private async fetch(): Promise<WorkloadSecret> {
    const key = generateWorkloadKey();
    const csr = createWorkloadCsr(key, this.o.identity);
    const current = this.o.cache.current();
    const now = this.o.clock.now();
    const useCert = this.o.mtls === true && !this.o.impersonate && current !== undefined && current.notAfter > now && current.notBefore <= now;
    const token = await this.o.token?.();
    const chain = await this.o.client.createCertificate(csr, this.o.validitySeconds ?? 0, {
      token,
      ...(this.o.impersonate && this.o.identity ? { metadata: { ImpersonatedIdentity: this.o.identity } } : {}),
      clientCertificate: useCert ? { certChainPem: current.certChainPem, privateKeyPem: current.privateKeyPem } : undefined,
    });
    return secretFromChain(chain, key.publicKey.export({ format: 'der', type: 'spki' }), key.privateKeyPem);
  }
}

/** Longest wait between renewal attempts once the certificate has expired (or there is none yet). */
export const EXPIRED_RETRY_MAX_MS = 5000;

/**
 * The backoff's ceiling for a certificate with `remainingMs` of validity left: a quarter of it
 * (at least 1 s), so attempts get closer as expiry nears; 5 s once it has expired or when there is
 * none. The CA answering again is then noticed within seconds, not after a full 60 s backoff:
 * with 2-minute certificates and a 3-minute CA outage, each sidecar's next attempt came 47-58 s
 * after the CA was back.
 */
export function retryCeiling(remainingMs: number | undefined): number {
  if (remainingMs === undefined || remainingMs <= 0) return EXPIRED_RETRY_MAX_MS;
  return Math.max(1000, remainingMs / 4);
}

/**
 * Check a CA answer (our key, a chain that links up) and turn it into a WorkloadSecret. As
 * istiod answers, the last element is the root bundle: one root, or several while a plug-in
 * root is rotated (the chain links up to one of them; all of them become the trusted roots).
 */
export function secretFromChain(chain: readonly string[], spki: Buffer, privateKeyPem: string): WorkloadSecret {
  let certs: X509Certificate[];
  let roots: X509Certificate[];
  try {
    const lead = chain.length > 1 ? chain.slice(0, -1) : chain;
    certs = lead.flatMap((p) => splitCertificatePems(p)).map((p) => new X509Certificate(p));
    roots = splitCertificatePems(chain[chain.length - 1]).map((p) => new X509Certificate(p));
  } catch (err) {
    throw new MizzenError('CA_INTERNAL', `the CA returned an unreadable certificate: ${(err as Error).message}`);
  }
  if (certs.length === 0 || roots.length === 0) throw new MizzenError('CA_INTERNAL', 'the CA returned an unreadable certificate: no PEM certificate');
  const leaf = certs[0];
  if (!leaf.publicKey.export({ format: 'der', type: 'spki' }).equals(spki)) {
    throw new MizzenError('CA_INTERNAL', 'the CA returned a certificate for a different key');
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i].verify(certs[i + 1].publicKey)) throw new MizzenError('CA_INTERNAL', `certificate ${i} of the CA's chain is not signed by the next`);
  }
  const top = certs[certs.length - 1];
  if (chain.length > 1 && !roots.some((r) => top.verify(r.publicKey))) {
    throw new MizzenError('CA_INTERNAL', `certificate ${certs.length - 1} of the CA's chain is not signed by any root the CA returned`);
  }
  const identity = certificateSans(leaf).uris[0];
  if (!identity) throw new MizzenError('CA_INTERNAL', 'the CA returned a certificate without a URI SAN');
  const { notBefore, notAfter } = certificateValidity(leaf);
  const pem = (c: X509Certificate): string => c.toString().trimEnd() + '\n';
  return { identity, certChainPem: certs.map(pem).join(''), privateKeyPem, rootCertPem: (chain.length > 1 ? roots : certs.slice(-1)).map(pem).join(''), notBefore, notAfter };
}
