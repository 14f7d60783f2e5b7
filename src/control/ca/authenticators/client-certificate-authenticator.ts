import { X509Certificate } from 'node:crypto';
import type { Clock } from '../../../lib/clock.ts';
import { certificateSans, isCertificateCurrent } from '../../../lib/certificate-info.ts';
import { parseSpiffeId } from '../../../lib/spiffe.ts';
import type { AuthenticationResult, Authenticator, CallerCredentials } from './authenticator.ts';

/**
 * Renewal over mTLS (15012): a workload presenting a still-valid certificate this CA issued is
 * that certificate's SPIFFE identity. TLS has already verified the chain to the mesh root; this
 * checks again that our signing certificate issued it, that it is current, and that it carries
 * exactly one SPIFFE URI in our trust domain.
 */
export class ClientCertificateAuthenticator implements Authenticator {
  readonly name = 'client-certificate';
  private readonly issuer: X509Certificate;
  private readonly trustDomain: string;
  private readonly clock: Clock;

  constructor(o: { issuer: X509Certificate; trustDomain: string; clock: Clock }) {
    this.issuer = o.issuer;
    this.trustDomain = o.trustDomain;
    this.clock = o.clock;
  }

  async authenticate(c: CallerCredentials): Promise<AuthenticationResult | undefined> {
    if (!c.peerCertificate) return undefined;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(c.peerCertificate);
    } catch (err) {
      return { ok: false, reason: `unreadable client certificate: ${(err as Error).message}` };
    }
    if (!cert.checkIssued(this.issuer) || !cert.verify(this.issuer.publicKey)) {
      return { ok: false, reason: 'client certificate was not issued by this CA' };
    }
    if (!isCertificateCurrent(cert, this.clock.now())) return { ok: false, reason: `client certificate is not valid now (notAfter ${cert.validTo})` };
    const uris = certificateSans(cert).uris;
    if (uris.length !== 1) return { ok: false, reason: `client certificate has ${uris.length} URI SANs, expected one SPIFFE ID` };
    const id = parseSpiffeId(uris[0]);
    if (!id || id.trustDomain !== this.trustDomain) return { ok: false, reason: `client certificate identity ${uris[0]} is not in trust domain ${this.trustDomain}` };
    return { ok: true, authenticator: this.name, identity: uris[0] };
  }
}
