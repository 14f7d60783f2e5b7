import { generateKeyPairSync } from 'node:crypto';
import { isIP } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { GrpcServerTls } from '../../lib/grpc-wire/grpc-server.ts';
import type { Logger } from '../../lib/log.ts';
import type { CertificateIssuer } from './certificate-issuer.ts';

/** Istiod's own service name, always in discovery's serving certificate. */
export const DISCOVERY_SERVICE_NAME = 'istiod.istio-system.svc';
export const SERVING_CERT_TTL_MS = 24 * 3600 * 1000;

/**
 * Discovery's TLS identity for 15012, issued by the mesh CA and renewed at half its lifetime; also
 * the trust bundle (root and intermediates) that client certificates are verified against.
 * It is a listener's TLS source for the gRPC server: a renewal swaps the server's TLS context live
 * (new connections get the new certificate; client certificates are requested, optional, and
 * verified against the bundle).
 */
export class ServingCertificateProvider implements GrpcServerTls {
  private issuer: CertificateIssuer;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly ttlMs: number;
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
  private caBundle: Buffer;
  private identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  private readonly listeners = new Set<() => void>();
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
    for (const l of this.listeners) l();
    const lifetime = result.notAfter - result.notBefore;
    this.timer = this.clock.setTimer(() => this.renew(), Math.max(1000, lifetime / 2));
  }

  /** The CA's keys changed: a certificate from the new issuer now, the new trust bundle. */
  reissue(issuer: CertificateIssuer, caBundlePem: string): void {
    this.issuer = issuer;
    this.caBundle = Buffer.from(caBundlePem);
    this.timer?.cancel();
    this.renew();
  }

  /** Key, chain and client-certificate trust bundle in force now. */
  contextOptions(): SecureContextOptions {
    if (!this.identity) throw new Error('discovery has no serving certificate yet');
    return { key: this.identity.privateKey, cert: this.identity.certificate, ca: this.caBundle };
  }

  /** Called after each renewal; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  readonly requestClientCertificate = true;

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }
}
