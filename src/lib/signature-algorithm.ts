import type { KeyObject } from 'node:crypto';
import * as der from './der.ts';

/**
 * X.509 signature algorithms we sign and verify with, by OID, and the choice of algorithm for a
 * signing key (ECDSA P-256 → ecdsa-with-SHA256, P-384 → SHA384, RSA → sha256WithRSAEncryption).
 */
export interface SignatureAlgorithm {
  oid: string;
  /** Digest name for node:crypto sign/verify. */
  hash: 'sha256' | 'sha384' | 'sha512';
  keyType: 'ec' | 'rsa';
  /** The AlgorithmIdentifier DER. */
  identifier: Buffer;
}

function algorithm(oidText: string, hash: SignatureAlgorithm['hash'], keyType: SignatureAlgorithm['keyType']): SignatureAlgorithm {
  // ECDSA identifiers omit parameters; RSA PKCS#1 v1.5 ones carry NULL (RFC 5758, RFC 4055).
  const identifier = keyType === 'ec' ? der.sequence(der.oid(oidText)) : der.sequence(der.oid(oidText), der.nullValue());
  return Object.freeze({ oid: oidText, hash, keyType, identifier });
}

export const SIGNATURE_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithm> = new Map(
  [
    algorithm('1.2.840.10045.4.3.2', 'sha256', 'ec'),
    algorithm('1.2.840.10045.4.3.3', 'sha384', 'ec'),
    algorithm('1.2.840.10045.4.3.4', 'sha512', 'ec'),
    algorithm('1.2.840.113549.1.1.11', 'sha256', 'rsa'),
    algorithm('1.2.840.113549.1.1.12', 'sha384', 'rsa'),
    algorithm('1.2.840.113549.1.1.13', 'sha512', 'rsa'),
  ].map((a) => [a.oid, a]),
);

/** The algorithm a certificate or CSR signed by `key` uses. */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const oidText = curve === 'secp384r1' ? '1.2.840.10045.4.3.3' : curve === 'secp521r1' ? '1.2.840.10045.4.3.4' : '1.2.840.10045.4.3.2';
    return SIGNATURE_ALGORITHMS.get(oidText)!;
  }
  if (type === 'rsa') return SIGNATURE_ALGORITHMS.get('1.2.840.113549.1.1.11')!;
  throw new RangeError(`unsupported signing key type: ${String(type)}`);
}
