import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import * as der from '../../../src/lib/der.ts';
import { signatureAlgorithmFor } from '../../../src/lib/signature-algorithm.ts';
import {
  basicConstraintsExtension, buildCertificate, distinguishedName, extKeyUsageExtension, KEY_USAGE, keyUsageExtension,
  OID, randomSerial, subjectAltNameExtension, type AltNames,
} from '../../../src/lib/x509-builder.ts';
import { toPem } from '../../../src/lib/pem.ts';

/** Test PKI built with the project's own X.509 builder (ECDSA P-256). */
export interface TestCa {
  certPem: string;
  subject: Buffer;
  key: KeyObject;
}

export interface TestCert {
  certPem: string;
  keyPem: string;
}

function keyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export async function makeCa(name: string): Promise<TestCa> {
  const { publicKey, privateKey } = keyPair();
  const subject = distinguishedName([{ oid: OID.organization, value: 'mizzen-test' }, { oid: OID.commonName, value: name }]);
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: subject,
    subject,
    notBefore: Date.now() - 60_000,
    notAfter: Date.now() + 86_400_000,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [basicConstraintsExtension(true), keyUsageExtension([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])],
    signingKey: privateKey,
  });
  return { certPem: toPem('CERTIFICATE', der), subject, key: privateKey };
}

/** A workload certificate with a SPIFFE URI SAN, signed by `ca`. */
export async function issue(ca: TestCa, spiffe: string): Promise<TestCert> {
  return issueWith(ca, { uris: [spiffe] });
}

/** Variations on a workload certificate, for the attacks a mesh must refuse. */
export interface IssueOptions extends AltNames {
  notBefore?: number;
  notAfter?: number;
  /** Signed by this key under this issuer name instead of the CA's (e.g. a leaf posing as a CA). */
  signer?: { subject: Buffer; key: KeyObject };
  /** A subject common name (default: an empty subject, as Istio's CA issues, with a critical SAN). */
  commonName?: string;
}

/** A certificate with the given SANs and validity, signed by `ca` (or `o.signer`); a leaf's key also returned as a KeyObject. */
export function issueWith(ca: TestCa, o: IssueOptions): TestCert & { key: KeyObject; subject: Buffer } {
  const { publicKey, privateKey } = keyPair();
  const hasSans = Boolean(o.uris?.length || o.dns?.length || o.ips?.length);
  const named = o.commonName !== undefined || !hasSans;
  const subject = distinguishedName(named ? [{ oid: OID.organization, value: 'mizzen-test' }, { oid: OID.commonName, value: o.commonName ?? 'no-san' }] : []);
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: o.signer?.subject ?? ca.subject,
    subject,
    notBefore: o.notBefore ?? Date.now() - 60_000,
    notAfter: o.notAfter ?? Date.now() + 86_400_000,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [
      basicConstraintsExtension(false),
      keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]),
      extKeyUsageExtension([OID.serverAuth, OID.clientAuth]),
      ...(hasSans ? [subjectAltNameExtension({ uris: o.uris, dns: o.dns, ips: o.ips }, !named)] : []),
    ],
    signingKey: o.signer?.key ?? ca.key,
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })), key: privateKey, subject };
}

/** A v1 CRL (RFC 5280 CertificateList) from `ca` listing the certificates given as revoked, as PEM. */
export function makeCrl(ca: TestCa, revoked: readonly TestCert[]): string {
  const alg = signatureAlgorithmFor(ca.key);
  const now = Date.now();
  const entries = revoked.map((c) => der.sequence(der.unsignedInteger(Buffer.from(new X509Certificate(c.certPem).serialNumber, 'hex')), der.time(now - 60_000)));
  const tbs = der.sequence(alg.identifier, ca.subject, der.time(now - 60_000), der.time(now + 86_400_000), ...(entries.length > 0 ? [der.sequence(...entries)] : []));
  return toPem('X509 CRL', der.sequence(tbs, alg.identifier, der.bitString(sign(alg.hash, tbs, ca.key))));
}
