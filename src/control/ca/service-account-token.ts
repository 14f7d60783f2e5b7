import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { MizzenError } from '../../lib/errors.ts';
import { writeFileOnce } from '../../lib/write-file-once.ts';

/**
 * Local service-account tokens: JWTs shaped like Kubernetes projected service-account tokens
 * (`sub: system:serviceaccount:NS:SA`, `aud: istio-ca`, `exp`), signed with an ES256 key kept in
 * --ca-dir. `mizzen token` mints them; the CA's JWT authenticator verifies them.
 */
export const TOKEN_AUDIENCE = 'istio-ca';
export const TOKEN_ISSUER = 'mizzen';
export const TOKEN_KEY_FILE = 'sa-token-key.pem';
export const DEFAULT_TOKEN_TTL_SECONDS = 24 * 3600;

export interface TokenKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Read the token signing key from `caDir`, creating it (once, atomically) if missing. */
export function loadOrCreateTokenKey(caDir: string): TokenKeyPair {
  const path = join(caDir, TOKEN_KEY_FILE);
  try {
    if (!existsSync(path)) {
      mkdirSync(caDir, { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      writeFileOnce(path, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    }
    const privateKey = createPrivateKey(readFileSync(path, 'utf8'));
    return { privateKey, publicKey: createPublicKey(privateKey) };
  } catch (err) {
    throw new MizzenError('CONFIG_IO', `cannot load the service-account token key ${path}: ${(err as Error).message}`, {
      cause: err,
      hint: 'is --ca-dir writable, and is the file a PEM private key?',
    });
  }
}

export const serviceAccountSubject = (namespace: string, serviceAccount: string): string =>
  `system:serviceaccount:${namespace}:${serviceAccount}`;

export interface MintTokenOptions {
  key: KeyObject;
  namespace: string;
  serviceAccount: string;
  ttlSeconds?: number;
  /** Issue time in ms (defaults to the wall clock). */
  now?: number;
  audience?: string;
  /** Bind the token to a pod (`kubernetes.io.pod`), as Kubernetes' projected tokens are. */
  pod?: { name: string; uid?: string };
}

export async function mintServiceAccountToken(o: MintTokenOptions): Promise<string> {
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const ttl = o.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  return new SignJWT({
    'kubernetes.io': { namespace: o.namespace, serviceaccount: { name: o.serviceAccount }, ...(o.pod ? { pod: { name: o.pod.name, ...(o.pod.uid ? { uid: o.pod.uid } : {}) } } : {}) },
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setSubject(serviceAccountSubject(o.namespace, o.serviceAccount))
    .setAudience(o.audience ?? TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + ttl)
    .sign(o.key);
}
