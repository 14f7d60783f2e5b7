import { CaClient } from '../../agent/ca-client.ts';
import { CertificateRotator } from '../../agent/certificate-rotator.ts';
import { SecretCache, type WorkloadSecret } from '../../agent/secret-cache.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { HboneCredentials } from '../hbone/hbone-settings.ts';

/**
 * Certificates for many identities (zt:src/identity/manager.rs SecretManager): one rotator per
 * SPIFFE identity that a pod on this node runs as, started on first use and kept while some
 * pod holds it. Each is requested with `ImpersonatedIdentity` and ztunnel's own token, as
 * Istio's CA expects from a node proxy.
 */
export interface IdentityCertificatesOptions {
  caAddress: string;
  caRootCertPem?: string;
  token: () => string | undefined | Promise<string | undefined>;
  clock: Clock;
  log: Logger;
  validitySeconds?: number;
}

interface Entry {
  cache: SecretCache;
  rotator: CertificateRotator;
  holders: number;
}

export class IdentityCertificates {
  private readonly o: IdentityCertificatesOptions;
  private readonly client: CaClient;
  private readonly entries = new Map<string, Entry>();

  constructor(o: IdentityCertificatesOptions) {
    this.o = o;
    this.client = new CaClient({ address: o.caAddress, tls: o.caRootCertPem ? { rootCertPem: o.caRootCertPem } : undefined });
  }

  private entry(identity: string): Entry {
    let e = this.entries.get(identity);
    if (!e) {
      const cache = new SecretCache();
      const rotator = new CertificateRotator({
        client: this.client,
        cache,
        clock: this.o.clock,
        log: this.o.log.child({ identity }),
        identity,
        impersonate: true,
        token: this.o.token,
        validitySeconds: this.o.validitySeconds,
      });
      e = { cache, rotator, holders: 0 };
      this.entries.set(identity, e);
      rotator.start();
    }
    return e;
  }

  /** Keep this identity's certificate fresh while the holder lasts (a pod running as it). */
  hold(identity: string): () => void {
    const e = this.entry(identity);
    e.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      e.holders--;
      if (e.holders <= 0 && this.entries.get(identity) === e) {
        e.rotator.close();
        this.entries.delete(identity);
      }
    };
  }

  /** The identity's current certificate, waiting for the first one if needed. */
  async credentials(identity: string): Promise<HboneCredentials> {
    const e = this.entry(identity);
    const s = e.cache.current() ?? (await e.rotator.ready());
    return toCredentials(s);
  }

  /** Already issued (no wait): for hot paths that may fall back to waiting. */
  current(identity: string): HboneCredentials | undefined {
    const s = this.entries.get(identity)?.cache.current();
    return s ? toCredentials(s) : undefined;
  }

  /** Called with the identity whenever one of its certificates is renewed. */
  onRenewed(identity: string, listener: (c: HboneCredentials) => void): () => void {
    let first = true;
    return this.entry(identity).cache.subscribe((s) => {
      if (first && s === this.entries.get(identity)?.cache.current()) {
        first = false;
        return;
      }
      listener(toCredentials(s));
    });
  }

  /** For /config_dump: every identity with its certificate's validity. */
  dump(): { identity: string; state: string; notBefore?: string; notAfter?: string; serial?: string }[] {
    return [...this.entries].map(([identity, e]) => {
      const s = e.cache.current();
      return s ? { identity, state: 'Available', notBefore: new Date(s.notBefore).toISOString(), notAfter: new Date(s.notAfter).toISOString() } : { identity, state: 'Initializing' };
    });
  }

  close(): void {
    for (const e of this.entries.values()) e.rotator.close();
    this.entries.clear();
  }
}

function toCredentials(s: WorkloadSecret): HboneCredentials {
  return { certChainPem: s.certChainPem, privateKeyPem: s.privateKeyPem, rootCertPem: s.rootCertPem };
}
