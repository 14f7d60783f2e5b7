import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MizzenError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { splitCertificatePems, toPem } from '../../lib/pem.ts';
import * as der from '../../lib/der.ts';
import { writeFileOnce } from '../../lib/write-file-once.ts';
import {
  basicConstraintsExtension,
  buildCertificate,
  distinguishedName,
  KEY_USAGE,
  keyIdentifier,
  keyUsageExtension,
  OID,
  randomSerial,
  subjectKeyIdentifierExtension,
} from '../../lib/x509-builder.ts';

/**
 * The key and certificate that sign workload certificates, and the chain up to the root.
 * Either a self-signed root generated once and kept in --ca-dir (root-cert.pem, root-key.pem),
 * or a plug-in CA (Istio's layout: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem), in
 * which case an intermediate signs and the whole chain is returned with each certificate.
 */
export interface SigningAuthority {
  kind: 'self-signed' | 'plug-in';
  signingKey: KeyObject;
  signingCert: X509Certificate;
  /** Subject Name DER of the signing certificate (the issuer of what it signs). */
  issuerName: Buffer;
  /** Key identifier of the signing key (AuthorityKeyIdentifier of issued certificates). */
  authorityKeyId: Buffer;
  /** PEMs from the signing certificate up to and including the root. */
  chainPems: readonly string[];
  /** Every root workloads trust (root-cert.pem: one, or the old and new roots while one is rotated). */
  rootCertPem: string;
  /** The root of the signing chain. */
  rootCert: X509Certificate;
}

export const ROOT_TTL_MS = 10 * 365 * 24 * 3600 * 1000;
export const PLUG_IN_FILES = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'] as const;

export interface SigningAuthorityOptions {
  caDir: string;
  trustDomain: string;
  now: number;
  log: Logger;
}

export function loadSigningAuthority(o: SigningAuthorityOptions): SigningAuthority {
  mkdirSync(o.caDir, { recursive: true, mode: 0o700 });
  const hasPlugIn = existsSync(join(o.caDir, 'ca-cert.pem')) || existsSync(join(o.caDir, 'ca-key.pem'));
  const authority = hasPlugIn ? loadPlugIn(o.caDir) : loadOrCreateSelfSigned(o);
  o.log.info(
    { kind: authority.kind, caDir: o.caDir, root: authority.rootCert.subject.replace(/\n/g, ','), rootNotAfter: authority.rootCert.validTo },
    authority.kind === 'plug-in' ? 'using plug-in CA certificates' : 'using self-signed root CA',
  );
  return authority;
}

function readText(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch (err) {
    throw new MizzenError('CONFIG_IO', `cannot read ${join(dir, name)}: ${(err as Error).message}`, { cause: err });
  }
}

function invalid(dir: string, message: string): MizzenError {
  return new MizzenError('CONFIG_INVALID', `CA directory ${dir}: ${message}`, {
    hint: `a plug-in CA needs ${PLUG_IN_FILES.join(', ')} (as made by Istio's tools/certs); remove ca-cert.pem and ca-key.pem to use a self-signed root`,
  });
}

function parseCerts(dir: string, name: string, text: string): X509Certificate[] {
  const pems = splitCertificatePems(text);
  if (pems.length === 0) throw invalid(dir, `${name} holds no PEM certificate`);
  try {
    return pems.map((p) => new X509Certificate(p));
  } catch (err) {
    throw invalid(dir, `${name}: unreadable certificate: ${(err as Error).message}`);
  }
}

function parseKey(dir: string, name: string, text: string): KeyObject {
  try {
    return createPrivateKey(text);
  } catch (err) {
    throw invalid(dir, `${name}: unreadable private key: ${(err as Error).message}`);
  }
}

function subjectDer(cert: X509Certificate): Buffer {
  // Certificate → TBSCertificate → [version, serial, sigAlg, issuer, validity, subject, ...]
  const raw = cert.raw;
  const top = der.readElement(raw, 0);
  const [tbs] = der.children(raw, top);
  const fields = der.children(raw, tbs);
  const offset = fields[0].tag === 0xa0 ? 1 : 0;
  return Buffer.from(der.whole(raw, fields[offset + 4]));
}

function spkiOf(cert: X509Certificate): Buffer {
  return cert.publicKey.export({ format: 'der', type: 'spki' });
}

function authority(kind: SigningAuthority['kind'], key: KeyObject, chain: X509Certificate[], rootBundle: X509Certificate[] = [chain[chain.length - 1]]): SigningAuthority {
  const signingCert = chain[0];
  const rootCert = chain[chain.length - 1];
  return {
    kind,
    signingKey: key,
    signingCert,
    issuerName: subjectDer(signingCert),
    authorityKeyId: keyIdentifier(spkiOf(signingCert)),
    chainPems: chain.map((c) => c.toString().trimEnd() + '\n'),
    rootCertPem: rootBundle.map((c) => c.toString().trimEnd() + '\n').join(''),
    rootCert,
  };
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * root-cert.pem may hold several roots: Istio's plug-in CA root rotation distributes the new root
 * beside the old one (workloads trust both) before the signing certificate moves to the new
 * root and the old root is dropped. The chain ends with the root of root-cert.pem that issued
 * it; the whole bundle is what workloads trust (`rootCertPem`).
 */
function loadPlugIn(dir: string): SigningAuthority {
  const missing = PLUG_IN_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw invalid(dir, `plug-in CA is missing ${missing.join(', ')}`);
  const [caCert] = parseCerts(dir, 'ca-cert.pem', readText(dir, 'ca-cert.pem'));
  const key = parseKey(dir, 'ca-key.pem', readText(dir, 'ca-key.pem'));
  const chainCerts = parseCerts(dir, 'cert-chain.pem', readText(dir, 'cert-chain.pem'));
  const roots = parseCerts(dir, 'root-cert.pem', readText(dir, 'root-cert.pem'));
  if (!caCert.checkPrivateKey(key)) throw invalid(dir, 'ca-key.pem does not match ca-cert.pem');
  if (!caCert.ca) throw invalid(dir, 'ca-cert.pem is not a CA certificate (basicConstraints CA:TRUE)');
  for (const r of roots) if (!r.ca || !issuedBy(r, r)) throw invalid(dir, `root-cert.pem: ${oneLine(r.subject)} is not a self-signed CA certificate`);
  // Chain: ca-cert, then cert-chain.pem's certificates (Istio's includes ca-cert itself), up to a root.
  const chain: X509Certificate[] = [];
  for (const c of [caCert, ...chainCerts]) {
    if (chain.some((x) => x.fingerprint256 === c.fingerprint256)) continue;
    chain.push(c);
    if (issuedBy(c, c)) break;
  }
  const top = chain[chain.length - 1];
  if (!issuedBy(top, top)) {
    const root = roots.find((r) => issuedBy(top, r));
    if (!root) throw invalid(dir, `certificate ${chain.length - 1} of the chain (${oneLine(top.subject)}) is not signed by any root in root-cert.pem (its issuer: ${oneLine(top.issuer)})`);
    chain.push(root);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i], chain[i + 1])) {
      throw invalid(dir, `certificate ${i} of the chain (${oneLine(chain[i].subject)}) is not signed by the next (${oneLine(chain[i + 1].subject)})`);
    }
  }
  const root = chain[chain.length - 1];
  if (!roots.some((r) => r.fingerprint256 === root.fingerprint256)) throw invalid(dir, `root-cert.pem does not hold the root of the chain (${oneLine(root.subject)})`);
  return authority('plug-in', key, chain, roots);
}

function oneLine(subject: string): string {
  return subject.replace(/\n/g, ', ');
}

function loadOrCreateSelfSigned(o: SigningAuthorityOptions): SigningAuthority {
  const keyPath = join(o.caDir, 'root-key.pem');
  const certPath = join(o.caDir, 'root-cert.pem');
  if (!existsSync(keyPath)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    if (writeFileOnce(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)) {
      o.log.info({ keyPath }, 'generated a new root CA key (ECDSA P-256)');
    }
  }
  const key = parseKey(o.caDir, 'root-key.pem', readText(o.caDir, 'root-key.pem'));
  if (!existsSync(certPath)) {
    writeFileOnce(certPath, selfSignedRootPem(key, o.trustDomain, o.now), 0o644);
  }
  const [root] = parseCerts(o.caDir, 'root-cert.pem', readText(o.caDir, 'root-cert.pem'));
  if (!root.checkPrivateKey(key)) throw invalid(o.caDir, 'root-key.pem does not match root-cert.pem');
  return authority('self-signed', key, [root]);
}

/** A 10-year self-signed root (O=trust domain), as Istio's self-signed CA makes. */
export function selfSignedRootPem(key: KeyObject, trustDomain: string, now: number): string {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const name = distinguishedName([{ oid: OID.organization, value: trustDomain }]);
  const certDer = buildCertificate({
    serial: randomSerial(),
    issuer: name,
    subject: name,
    notBefore: now - 60_000,
    notAfter: now + ROOT_TTL_MS,
    spki,
    signingKey: key,
    extensions: [
      keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
      basicConstraintsExtension(true),
      subjectKeyIdentifierExtension(keyIdentifier(spki)),
    ],
  });
  return toPem('CERTIFICATE', certDer);
}
