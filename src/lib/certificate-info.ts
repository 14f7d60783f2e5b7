import { X509Certificate } from 'node:crypto';
import { splitCertificatePems } from './pem.ts';

/**
 * What the mesh reads from X.509 certificates: the chain order, SANs and validity. Parsing is
 * node:crypto's (OpenSSL); this file only gives it names.
 */
export interface CertificateSans {
  uris: string[];
  dns: string[];
  ips: string[];
}

/** Parse a PEM bundle into certificates, in the order given. */
export function parseCertificateChain(pem: string): X509Certificate[] {
  return splitCertificatePems(pem).map((p) => new X509Certificate(p));
}

/** Subject alternative names, split by kind. */
export function certificateSans(cert: X509Certificate): CertificateSans {
  const out: CertificateSans = { uris: [], dns: [], ips: [] };
  const text = cert.subjectAltName;
  if (!text) return out;
  // Node prints `URI:x, DNS:y, IP Address:z`, JSON-quoting entries that contain separators.
  for (const raw of splitSanList(text)) {
    const colon = raw.indexOf(':');
    if (colon < 0) continue;
    const kind = raw.slice(0, colon);
    let value = raw.slice(colon + 1);
    if (value.startsWith('"')) value = JSON.parse(value) as string;
    if (kind === 'URI') out.uris.push(value);
    else if (kind === 'DNS') out.dns.push(value);
    else if (kind === 'IP Address') out.ips.push(value);
  }
  return out;
}

function splitSanList(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (!quoted && c === ',' && text[i + 1] === ' ') {
      out.push(cur);
      cur = '';
      i++;
      continue;
    }
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

/** Not-before and not-after as epoch milliseconds. */
export function certificateValidity(cert: X509Certificate): { notBefore: number; notAfter: number } {
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

/** True when `cert` is inside its validity window at `now` (ms). */
export function isCertificateCurrent(cert: X509Certificate, now: number): boolean {
  const { notBefore, notAfter } = certificateValidity(cert);
  return now >= notBefore && now <= notAfter;
}
