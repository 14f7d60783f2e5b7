import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRPC_CERT_FILES } from './grpc-bootstrap.ts';
import type { SecretCache, WorkloadSecret } from './secret-cache.ts';

/**
 * Keep the workload certificate as files for a reader that watches them (gRPC's `file_watcher`
 * certificate provider), as Istio's agent does with OUTPUT_CERTS: each file replaced atomically
 * (rename), key before certificate so a reader never pairs a new certificate with an old key for
 * longer than one refresh.
 */
export function writeCertificateFiles(dir: string, secret: WorkloadSecret): void {
  const put = (name: string, data: string, mode: number): void => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, join(dir, name));
  };
  put(GRPC_CERT_FILES.root, secret.rootCertPem, 0o644);
  put(GRPC_CERT_FILES.key, secret.privateKeyPem, 0o600);
  put(GRPC_CERT_FILES.certChain, secret.certChainPem, 0o644);
}

/** Write now (if a certificate is there) and after every rotation; returns unsubscribe. */
export function keepCertificateFiles(cache: SecretCache, dir: string, onWritten?: (s: WorkloadSecret) => void, onError?: (err: unknown) => void): () => void {
  return cache.subscribe((secret) => {
    try {
      writeCertificateFiles(dir, secret);
      onWritten?.(secret);
    } catch (err) {
      onError?.(err);
    }
  });
}
