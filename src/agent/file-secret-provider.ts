import { existsSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { AgentSecretProvider, AgentTlsSecret } from './cache-secret-provider.ts';

/** SDS names istio-agent serves from files: `file-root:PATH` (a CA bundle), `file-cert:CERT~KEY`. */
export const FILE_ROOT_PREFIX = 'file-root:';
export const FILE_CERT_PREFIX = 'file-cert:';
/** istiod's CA path for "verify against the OS roots" (VERIFY_CERTIFICATE_AT_CLIENT, caCertificates unset). */
export const SYSTEM_ROOTS = 'system';

/** Where istio-agent looks for the OS CA bundle, first existing wins (Debian, Fedora/RHEL, openSUSE, Alpine, ...). */
export const OS_ROOT_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

export interface FileSecretOptions {
  /** The OS bundle to use for `file-root:system` (the proxy's SSL_CERT_FILE); else the first of OS_ROOT_BUNDLES; else Node's bundled roots. */
  systemBundle?: string;
  /** How often files in use are checked for changes (ms; default 5000). */
  pollMs?: number;
}

/**
 * What istio-agent's SDS serves from the pod's filesystem rather than from the CA: DestinationRule
 * `caCertificates` / `clientCertificate`+`privateKey` files, and `file-root:system`, the OS trust
 * bundle istiod asks for when a SIMPLE or MUTUAL origination has no `caCertificates` (Istio's
 * VERIFY_CERTIFICATE_AT_CLIENT, on by default). A file is read when first asked for and watched
 * from then on: a changed file is announced like a rotated certificate, so TLS contexts built on
 * it are rebuilt. A file that cannot be read is no secret (the cluster waits for it, as Envoy's
 * SDS does).
 */
export class FileSecretProvider implements AgentSecretProvider {
  private readonly o: FileSecretOptions;
  private readonly cache = new Map<string, AgentTlsSecret | undefined>();
  private readonly watched = new Set<string>();
  private readonly listeners = new Set<(name: string) => void>();

  constructor(o: FileSecretOptions = {}) {
    this.o = o;
  }

  getSecret(name: string): AgentTlsSecret | undefined {
    if (!name.startsWith(FILE_ROOT_PREFIX) && !name.startsWith(FILE_CERT_PREFIX)) return undefined;
    if (this.cache.has(name)) return this.cache.get(name);
    const s = this.read(name);
    this.cache.set(name, s);
    return s;
  }

  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const f of this.watched) unwatchFile(f);
    this.watched.clear();
  }

  /** The OS bundle file `file-root:system` reads, or undefined for Node's bundled roots. */
  systemBundlePath(): string | undefined {
    if (this.o.systemBundle) return this.o.systemBundle;
    return OS_ROOT_BUNDLES.find((p) => existsSync(p));
  }

  private read(name: string): AgentTlsSecret | undefined {
    if (name.startsWith(FILE_ROOT_PREFIX)) {
      const path = name.slice(FILE_ROOT_PREFIX.length);
      if (path === SYSTEM_ROOTS) {
        const bundle = this.systemBundlePath();
        if (!bundle) return { kind: 'validation', trustedCa: rootCertificates.join('\n') };
        const pem = this.file(name, bundle);
        return pem === undefined ? undefined : { kind: 'validation', trustedCa: pem };
      }
      const pem = this.file(name, path);
      return pem === undefined ? undefined : { kind: 'validation', trustedCa: pem };
    }
    const [certPath, keyPath] = name.slice(FILE_CERT_PREFIX.length).split('~');
    if (!certPath || !keyPath) return undefined;
    const certChain = this.file(name, certPath);
    const privateKey = this.file(name, keyPath);
    return certChain === undefined || privateKey === undefined ? undefined : { kind: 'certificate', certChain, privateKey };
  }

  private file(name: string, path: string): string | undefined {
    if (!this.watched.has(path)) {
      this.watched.add(path);
      watchFile(path, { interval: this.o.pollMs ?? 5000, persistent: false }, (cur, prev) => {
        if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
        const affected = [...this.cache.keys()].filter((n) => n === name || n.includes(path));
        for (const n of affected) this.cache.delete(n);
        for (const n of affected) for (const l of this.listeners) l(n);
      });
    }
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }
}
