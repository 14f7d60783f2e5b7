import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import * as der from '../../../src/lib/der.ts';
import { signatureAlgorithmFor } from '../../../src/lib/signature-algorithm.ts';
import {
  basicConstraintsExtension, buildCertificate, distinguishedName, extKeyUsageExtension, KEY_USAGE, keyUsageExtension,
  OID, randomSerial, subjectAltNameExtension,
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
  const { publicKey, privateKey } = keyPair();
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: distinguishedName([]),
    notBefore: Date.now() - 60_000,
    notAfter: Date.now() + 86_400_000,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [
      basicConstraintsExtension(false),
      keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]),
      extKeyUsageExtension([OID.serverAuth, OID.clientAuth]),
      subjectAltNameExtension({ uris: [spiffe] }, true),
    ],
    signingKey: ca.key,
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}

/** A v1 CRL (RFC 5280 CertificateList) from `ca` listing the certificates given as revoked, as PEM. */
export function makeCrl(ca: TestCa, revoked: readonly TestCert[]): string {
  const alg = signatureAlgorithmFor(ca.key);
  const now = Date.now();
  const entries = revoked.map((c) => der.sequence(der.unsignedInteger(Buffer.from(new X509Certificate(c.certPem).serialNumber, 'hex')), der.time(now - 60_000)));
  const tbs = der.sequence(alg.identifier, ca.subject, der.time(now - 60_000), der.time(now + 86_400_000), ...(entries.length > 0 ? [der.sequence(...entries)] : []));
  return toPem('X509 CRL', der.sequence(tbs, alg.identifier, der.bitString(sign(alg.hash, tbs, ca.key))));
}
