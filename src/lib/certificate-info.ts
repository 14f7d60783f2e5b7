import { X509Certificate } from 'node:crypto';
import * as der from './der.ts';
import { splitCertificatePems } from './pem.ts';

/**
 * What the mesh reads from X.509 certificates: the chain order, SANs and validity. Parsing is
 * node:crypto's (OpenSSL), except SANs, read from the DER; this file gives them names.
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

/** Subject alternative names, split by kind, read from the certificate's DER (see `certificateSansOfDer`). */
export function certificateSans(cert: X509Certificate): CertificateSans {
  return certificateSansOfDer(cert.raw);
}

const SAN_OID = '2.5.29.17';

/**
 * Subject alternative names read from a certificate's DER, value for value as encoded. Node's
 * `subjectAltName` text escapes and quotes values that contain separators, so reading names back
 * from it is lossy and easy to get wrong; the DER is not. A certificate that cannot be read has no
 * names (callers that check identities then refuse it).
 */
export function certificateSansOfDer(raw: Buffer | undefined): CertificateSans {
  const out: CertificateSans = { uris: [], dns: [], ips: [] };
  if (!raw || raw.length === 0) return out;
  try {
    const top = der.expectTag(der.readElement(raw, 0), der.TAG.sequence, 'Certificate');
    const tbs = der.expectTag(der.children(raw, top)[0], der.TAG.sequence, 'TBSCertificate');
    const exts = der.children(raw, tbs).find((el) => el.tag === 0xa3);
    if (!exts) return out;
    const list = der.expectTag(der.children(raw, exts)[0], der.TAG.sequence, 'Extensions');
    for (const ext of der.children(raw, list)) {
      const parts = der.children(raw, der.expectTag(ext, der.TAG.sequence, 'Extension'));
      if (der.readOid(raw, parts[0]) !== SAN_OID) continue;
      const value = der.expectTag(parts[parts.length - 1], der.TAG.octetString, 'extnValue');
      const names = der.expectTag(der.readElement(raw, value.contentStart, value.end), der.TAG.sequence, 'GeneralNames');
      for (const n of der.children(raw, names)) {
        const bytes = der.content(raw, n);
        if (n.tag === 0x86) out.uris.push(bytes.toString('latin1'));
        else if (n.tag === 0x82) out.dns.push(bytes.toString('latin1'));
        else if (n.tag === 0x87) {
          const ip = ipText(bytes);
          if (ip) out.ips.push(ip);
        }
      }
    }
    return out;
  } catch {
    return { uris: [], dns: [], ips: [] };
  }
}

/** An iPAddress GeneralName as text: dotted IPv4, compressed IPv6 (as Envoy prints it). */
function ipText(b: Buffer): string | undefined {
  if (b.length === 4) return [...b].join('.');
  if (b.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
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
