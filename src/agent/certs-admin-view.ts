import { X509Certificate } from 'node:crypto';
import { certificateSans, certificateValidity, parseCertificateChain } from '../lib/certificate-info.ts';
import type { WorkloadSecret } from './secret-cache.ts';

/**
 * The agent's certificates as Envoy's admin `/certs` shows them (envoy.admin.v3.Certificates in
 * JSON), so the proxy's admin endpoint makes certificate expiry visible the way Envoy does.
 */
export interface CertificateDetailsJson {
  path: string;
  serial_number: string;
  subject_alt_names: ({ uri: string } | { dns: string } | { ip_address: string })[];
  days_until_expiration: string;
  valid_from: string;
  expiration_time: string;
}

export interface CertificatesJson {
  certificates: { ca_cert: CertificateDetailsJson[]; cert_chain: CertificateDetailsJson[] }[];
}

function details(cert: X509Certificate, now: number): CertificateDetailsJson {
  const { notBefore, notAfter } = certificateValidity(cert);
  const sans = certificateSans(cert);
  return {
    path: '<inline>',
    serial_number: cert.serialNumber.toLowerCase(),
    subject_alt_names: [...sans.uris.map((uri) => ({ uri })), ...sans.dns.map((dns) => ({ dns })), ...sans.ips.map((ip_address) => ({ ip_address }))],
    days_until_expiration: String(Math.max(0, Math.floor((notAfter - now) / 86_400_000))),
    valid_from: new Date(notBefore).toISOString(),
    expiration_time: new Date(notAfter).toISOString(),
  };
}

/** Envoy's /certs JSON for the workload chain and trust bundle (PEM), or no certificates. */
export function certsAdminView(secret: Pick<WorkloadSecret, 'certChainPem' | 'rootCertPem'> | undefined, now: number): CertificatesJson {
  if (!secret) return { certificates: [] };
  return {
    certificates: [
      {
        ca_cert: parseCertificateChain(secret.rootCertPem).map((c) => details(c, now)),
        cert_chain: parseCertificateChain(secret.certChainPem).map((c) => details(c, now)),
      },
    ],
  };
}
