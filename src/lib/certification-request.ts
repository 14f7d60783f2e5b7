import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import * as der from './der.ts';
import { splitPem, toPem } from './pem.ts';
import { SIGNATURE_ALGORITHMS, signatureAlgorithmFor } from './signature-algorithm.ts';
import { distinguishedName, OID, generalNames, type AltNames } from './x509-builder.ts';

/**
 * PKCS#10 certification requests (RFC 2986): build one for a key pair, and parse + verify one
 * received from a client. Parsing returns the signed parts verbatim so a CA can copy the public
 * key into a certificate without re-encoding it.
 */
export interface ParsedCertificationRequest {
  /** SubjectPublicKeyInfo DER, as sent. */
  spki: Buffer;
  publicKey: KeyObject;
  /** 'ec' | 'rsa' | ... (node:crypto asymmetricKeyType). */
  keyType: string;
  /** EC curve name (e.g. prime256v1) or RSA modulus length in bits. */
  keyDetail: string | number | undefined;
  /** Subject Name DER, as sent. */
  subject: Buffer;
}

export type CsrParseResult =
  | { ok: true; request: ParsedCertificationRequest }
  | { ok: false; reason: string };

/**
 * Parse a PEM (or DER) CSR and check its self-signature. Never throws on bad input: the reason
 * is returned for logs, callers decide what the client sees.
 */
export function parseCertificationRequest(input: string | Buffer): CsrParseResult {
  let buf: Buffer;
  if (typeof input === 'string') {
    const block = splitPem(input).find((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
    if (!block) return { ok: false, reason: 'no PEM CERTIFICATE REQUEST block' };
    buf = block.der;
  } else buf = input;
  try {
    const top = der.expectTag(der.readElement(buf, 0), der.TAG.sequence, 'CertificationRequest SEQUENCE');
    if (top.end !== buf.length) return { ok: false, reason: 'trailing bytes after CertificationRequest' };
    const [infoEl, algEl, sigEl] = der.children(buf, top);
    der.expectTag(infoEl, der.TAG.sequence, 'CertificationRequestInfo');
    const [versionEl, subjectEl, spkiEl] = der.children(buf, infoEl);
    der.expectTag(versionEl, der.TAG.integer, 'version');
    der.expectTag(subjectEl, der.TAG.sequence, 'subject Name');
    der.expectTag(spkiEl, der.TAG.sequence, 'SubjectPublicKeyInfo');
    const algOid = der.readOid(buf, der.children(buf, der.expectTag(algEl, der.TAG.sequence, 'signatureAlgorithm'))[0]);
    const alg = SIGNATURE_ALGORITHMS.get(algOid);
    if (!alg) return { ok: false, reason: `unsupported signature algorithm ${algOid}` };
    const signature = der.readBitString(buf, sigEl);
    const spki = der.whole(buf, spkiEl);
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    } catch (err) {
      return { ok: false, reason: `unreadable public key: ${(err as Error).message}` };
    }
    const keyType = publicKey.asymmetricKeyType ?? 'unknown';
    if (keyType !== alg.keyType) return { ok: false, reason: `signature algorithm ${algOid} does not match a ${keyType} key` };
    const valid = verify(alg.hash, der.whole(buf, infoEl), publicKey, signature);
    if (!valid) return { ok: false, reason: 'CSR signature does not verify' };
    const details = publicKey.asymmetricKeyDetails;
    return {
      ok: true,
      request: {
        spki,
        publicKey,
        keyType,
        keyDetail: details?.namedCurve ?? details?.modulusLength,
        subject: der.whole(buf, subjectEl),
      },
    };
  } catch (err) {
    return { ok: false, reason: `malformed CSR: ${(err as Error).message}` };
  }
}

export interface CsrOptions {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Requested SANs (a CA may ignore them: Istio's takes identity from authentication). */
  altNames?: AltNames;
  organization?: string;
  /** Subject CN (after O, as `/O=.../CN=...`), e.g. `system:node:NAME` for a kubelet. */
  commonName?: string;
}

/** Build a PEM CSR signed by `privateKey`. */
export function createCertificationRequest(o: CsrOptions): string {
  const spki = o.publicKey.export({ format: 'der', type: 'spki' });
  const attrs: Buffer[] = [];
  if (o.altNames) {
    const san = der.sequence(der.oid(OID.subjectAltName), der.octetString(generalNames(o.altNames)));
    attrs.push(der.sequence(der.oid(OID.extensionRequest), der.set(der.sequence(san))));
  }
  const subject = distinguishedName([
    ...(o.organization ? [{ oid: OID.organization, value: o.organization }] : []),
    ...(o.commonName ? [{ oid: OID.commonName, value: o.commonName }] : []),
  ]);
  const info = der.sequence(der.smallInteger(0), subject, spki, der.tlv(0xa0, ...attrs));
  const alg = signatureAlgorithmFor(o.privateKey);
  const signature = sign(alg.hash, info, o.privateKey);
  return toPem('CERTIFICATE REQUEST', der.sequence(info, alg.identifier, der.bitString(signature)));
}
