import { createHash, randomBytes, type KeyObject, sign } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.ts';
import { signatureAlgorithmFor, type SignatureAlgorithm } from './signature-algorithm.ts';

/**
 * Build and sign X.509 v3 certificates directly in DER (RFC 5280) with node:crypto. This is the
 * hot path of a CA: everything is synchronous and nothing goes through WebCrypto or an ASN.1
 * object model.
 */

export const OID = Object.freeze({
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  extensionRequest: '1.2.840.113549.1.9.14',
});

/** Key usage bits (RFC 5280 4.2.1.3), by bit number. */
export const KEY_USAGE = Object.freeze({
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
});

/** A Name from (OID, UTF8String value) attributes, one RDN each; empty list → empty Name. */
export function distinguishedName(attrs: readonly { oid: string; value: string }[]): Buffer {
  return der.sequence(...attrs.map((a) => der.set(der.sequence(der.oid(a.oid), der.utf8String(a.value)))));
}

function extension(oidText: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.sequence(der.oid(oidText), der.boolean(true), der.octetString(value))
    : der.sequence(der.oid(oidText), der.octetString(value));
}

export function basicConstraintsExtension(ca: boolean, pathLen?: number): Buffer {
  const body = ca ? der.sequence(der.boolean(true), ...(pathLen === undefined ? [] : [der.smallInteger(pathLen)])) : der.sequence();
  return extension(OID.basicConstraints, true, body);
}

export function keyUsageExtension(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const nBytes = Math.floor(highest / 8) + 1;
  const bytes = Buffer.alloc(nBytes);
  for (const b of bits) bytes[Math.floor(b / 8)] |= 0x80 >> b % 8;
  const unused = nBytes * 8 - 1 - highest;
  return extension(OID.keyUsage, true, der.tlv(der.TAG.bitString, Buffer.from([unused]), bytes));
}

export function extKeyUsageExtension(oids: readonly string[]): Buffer {
  return extension(OID.extKeyUsage, false, der.sequence(...oids.map((o) => der.oid(o))));
}

export interface AltNames {
  uris?: readonly string[];
  dns?: readonly string[];
  /** IPv4 or IPv6 literals. */
  ips?: readonly string[];
}

/** GeneralNames for a SAN extension: URI [6], dNSName [2], iPAddress [7]. */
export function generalNames(names: AltNames): Buffer {
  const parts: Buffer[] = [];
  for (const u of names.uris ?? []) parts.push(der.implicitPrimitive(6, Buffer.from(u, 'ascii')));
  for (const d of names.dns ?? []) parts.push(der.implicitPrimitive(2, Buffer.from(d, 'ascii')));
  for (const ip of names.ips ?? []) parts.push(der.implicitPrimitive(7, ipBytes(ip)));
  return der.sequence(...parts);
}

/** SAN extension; critical when the subject is empty, as RFC 5280 requires (Istio does this). */
export function subjectAltNameExtension(names: AltNames, critical: boolean): Buffer {
  return extension(OID.subjectAltName, critical, generalNames(names));
}

export function subjectKeyIdentifierExtension(keyId: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, der.octetString(keyId));
}

export function authorityKeyIdentifierExtension(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, keyId)));
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits of an SPKI. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const spki = der.readElement(spkiDer, 0);
  const [, bits] = der.children(spkiDer, spki);
  return createHash('sha1').update(der.readBitString(spkiDer, bits)).digest();
}

function ipBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new RangeError(`not an IP address: ${ip}`);
  const [head, tail = ''] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** A random positive 128-bit serial number (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  if (b[0] === 0) b[0] = 1;
  return b;
}

export interface CertificateFields {
  serial: Buffer;
  /** Issuer Name DER, copied verbatim from the issuing certificate's subject. */
  issuer: Buffer;
  /** Subject Name DER (may be an empty SEQUENCE). */
  subject: Buffer;
  notBefore: number;
  notAfter: number;
  /** SubjectPublicKeyInfo DER of the certified key. */
  spki: Buffer;
  /** Complete Extension DERs. */
  extensions: readonly Buffer[];
  /** The issuer's private key. */
  signingKey: KeyObject;
  /** The signature algorithm for `signingKey`, when the caller has it already (saves a key inspection per certificate). */
  algorithm?: SignatureAlgorithm;
}

const VERSION_3 = der.explicit(0, der.smallInteger(2));

/** Encode, sign and return a certificate as DER. */
export function buildCertificate(f: CertificateFields): Buffer {
  const alg = f.algorithm ?? signatureAlgorithmFor(f.signingKey);
  const tbs = der.sequence(
    VERSION_3,
    der.unsignedInteger(f.serial),
    alg.identifier,
    f.issuer,
    der.sequence(der.time(f.notBefore), der.time(f.notAfter)),
    f.subject,
    f.spki,
    der.explicit(3, der.sequence(...f.extensions)),
  );
  const signature = sign(alg.hash, tbs, f.signingKey);
  return der.sequence(tbs, alg.identifier, der.bitString(signature));
}
