/**
 * Plug-in CA material for root rotation (Istio's cacerts layout): self-signed roots and
 * intermediates signed by them (ECDSA P-256, the project's own X.509 builder), written into a CA
 * directory the way a mounted Secret changes (each file whole, by rename).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../src/lib/pem.ts';
import {
  basicConstraintsExtension, buildCertificate, distinguishedName, KEY_USAGE, keyIdentifier, keyUsageExtension, OID, randomSerial, subjectKeyIdentifierExtension,
} from '../src/lib/x509-builder.ts';

export interface Ca {
  certPem: string;
  keyPem: string;
  subject: Buffer;
  key: KeyObject;
}

const DAY = 86_400_000;

export function caCertificate(name: string, issuer?: Ca): Ca {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const subject = distinguishedName([{ oid: OID.organization, value: 'cluster.local' }, { oid: OID.commonName, value: name }]);
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: issuer?.subject ?? subject,
    subject,
    notBefore: Date.now() - 3600_000,
    notAfter: Date.now() + (issuer ? 30 : 365) * DAY,
    spki,
    signingKey: issuer?.key ?? privateKey,
    extensions: [basicConstraintsExtension(true), keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]), subjectKeyIdentifierExtension(keyIdentifier(spki))],
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })), subject, key: privateKey };
}

/** Write a file as istiod sees a mounted Secret change: whole, by rename. */
function put(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, join(dir, name));
}

/** Istio's plug-in layout: ca-cert/ca-key of the intermediate, cert-chain (intermediate + its root), root-cert (the bundle). */
export function writePlugIn(dir: string, intermediate: Ca, root: Ca, bundle: readonly Ca[]): void {
  put(dir, 'ca-key.pem', intermediate.keyPem);
  put(dir, 'ca-cert.pem', intermediate.certPem);
  put(dir, 'cert-chain.pem', intermediate.certPem + root.certPem);
  put(dir, 'root-cert.pem', bundle.map((c) => c.certPem).join(''));
}

