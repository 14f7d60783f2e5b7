import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createCertificationRequest } from '../lib/certification-request.ts';

/** A fresh workload key pair (ECDSA P-256) and a CSR for it, as istio-agent makes per rotation. */
export interface WorkloadKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privateKeyPem: string;
}

export function generateWorkloadKey(): WorkloadKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string };
}

/** CSR for `key`, naming `identity` as a URI SAN (advisory only: the CA uses the authenticated identity). */
export function createWorkloadCsr(key: WorkloadKey, identity?: string): string {
  return createCertificationRequest({
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    altNames: identity ? { uris: [identity] } : undefined,
  });
}
