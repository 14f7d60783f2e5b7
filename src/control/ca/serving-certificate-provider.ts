import { generateKeyPairSync } from 'node:crypto';
import { isIP } from 'node:net';
import type { experimental } from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { CertificateIssuer } from './certificate-issuer.ts';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Istiod's own service name, always in discovery's serving certificate. */
export const DISCOVERY_SERVICE_NAME = 'istiod.istio-system.svc';
export const SERVING_CERT_TTL_MS = 24 * 3600 * 1000;

/**
 * Discovery's TLS identity for 15012, issued by the mesh CA and renewed at half its lifetime; also
 * the trust bundle (root and intermediates) that client certificates are verified against.
 * Plugs into grpc-js as a CertificateProvider so a renewal swaps the server's TLS context live.
 */
export class ServingCertificateProvider implements CertificateProvider {
  private readonly issuer: CertificateIssuer;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly ttlMs: number;
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
  private readonly caBundle: Buffer;
  private identity: experimental.IdentityCertificateUpdate | null = null;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(o: { issuer: CertificateIssuer; clock: Clock; log: Logger; hosts: readonly string[]; caBundlePem: string; ttlMs?: number }) {
    this.issuer = o.issuer;
    this.clock = o.clock;
    this.log = o.log;
    this.ttlMs = o.ttlMs ?? SERVING_CERT_TTL_MS;
    const names = [DISCOVERY_SERVICE_NAME, ...o.hosts.map((h) => h.trim()).filter(Boolean)];
    this.dnsNames = [...new Set(names.filter((h) => isIP(h) === 0))];
    this.ipAddresses = [...new Set(names.filter((h) => isIP(h) !== 0))];
    this.caBundle = Buffer.from(o.caBundlePem);
    this.renew();
  }

  /** PEM chain currently served (leaf first). */
  certificateChainPem(): string | undefined {
    return this.identity?.certificate.toString();
  }

  private renew(): void {
    if (this.closed) return;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const result = this.issuer.issueServing(publicKey, { dns: this.dnsNames, ips: this.ipAddresses }, this.ttlMs);
    if (!result.ok) {
      this.log.error({ reason: result.reason }, 'cannot issue the discovery serving certificate; retrying in 1 minute');
      this.timer = this.clock.setTimer(() => this.renew(), 60_000);
      return;
    }
    this.identity = {
      certificate: Buffer.from(result.certChain.slice(0, -1).join('') || result.certChain[0]),
      privateKey: Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string),
    };
    this.log.info({ dns: this.dnsNames, ips: this.ipAddresses, notAfter: new Date(result.notAfter).toISOString() }, 'discovery serving certificate issued');
    for (const l of this.identityListeners) l(this.identity);
    const lifetime = result.notAfter - result.notBefore;
    this.timer = this.clock.setTimer(() => this.renew(), Math.max(1000, lifetime / 2));
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Asynchronously: grpc-js registers its watcher only after adding these listeners.
    queueMicrotask(() => this.caListeners.has(listener) && listener({ caCertificate: this.caBundle }));
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identity && this.identityListeners.has(listener) && listener(this.identity));
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }
}
