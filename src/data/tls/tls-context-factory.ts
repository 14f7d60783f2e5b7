import { createHash } from 'node:crypto';
import * as tls from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { certificateSansOfDer } from '../../lib/certificate-info.ts';
import type { SecretProvider } from './secret-provider.ts';
import type { TlsSpec } from './tls-context-config.ts';

/** Why a TLS context cannot be built yet (a secret not delivered), as a value. */
export interface TlsUnavailable {
  missing: string;
}

/**
 * Builds and caches `tls.SecureContext`s for compiled TLS specs from the secret provider; a secret
 * change (rotation) drops the cached contexts that used it, so new connections pick up the new
 * certificate while existing ones keep going.
 */
export class TlsContextFactory {
  private readonly secrets: SecretProvider;
  private readonly cache = new Map<string, { ctx: tls.SecureContext; uses: string[] }>();
  private readonly off: () => void;
  /** Bumped on every secret change, so pools can tell their sessions are stale. */
  generation = 0;

  constructor(secrets: SecretProvider) {
    this.secrets = secrets;
    this.off = secrets.onChange((name) => {
      this.generation++;
      for (const [k, v] of this.cache) if (v.uses.includes(name)) this.cache.delete(k);
    });
  }

  close(): void {
    this.off();
    this.cache.clear();
  }

  secureContext(spec: TlsSpec): tls.SecureContext | TlsUnavailable {
    const hit = this.cache.get(spec.key);
    if (hit) return hit.ctx;
    const uses: string[] = [];
    // a session id context lets servers that ask for client certificates resume sessions
    const sessionIdContext = createHash('sha256').update(spec.key).digest('hex').slice(0, 32);
    const opts: tls.SecureContextOptions = { minVersion: spec.minVersion, maxVersion: spec.maxVersion, sessionIdContext };
    if (spec.ciphers) opts.ciphers = spec.ciphers;
    if (spec.cert) {
      if ('sds' in spec.cert) {
        uses.push(spec.cert.sds);
        const s = this.secrets.getSecret(spec.cert.sds);
        if (!s || s.kind !== 'certificate') return { missing: spec.cert.sds };
        opts.cert = s.certChain;
        opts.key = s.privateKey;
      } else {
        opts.cert = spec.cert.inline.certChain;
        opts.key = spec.cert.inline.privateKey;
      }
    }
    if (spec.ca) {
      if ('sds' in spec.ca) {
        uses.push(spec.ca.sds);
        const s = this.secrets.getSecret(spec.ca.sds);
        if (!s) return { missing: spec.ca.sds };
        opts.ca = s.kind === 'validation' ? s.trustedCa : s.certChain;
      } else opts.ca = spec.ca.inline;
    }
    if (spec.crl) opts.crl = spec.crl;
    const ctx = tls.createSecureContext(opts);
    this.cache.set(spec.key, { ctx, uses });
    return ctx;
  }
}

/** SANs of a peer certificate, read from its DER: `[['URI', 'spiffe://...'], ['DNS', 'a.b'], ['IP Address', '10.0.0.1']]`. */
export function peerSans(cert: PeerCertificate | undefined): [string, string][] {
  const sans = certificateSansOfDer(cert?.raw);
  return [...sans.uris.map((v) => ['URI', v] as [string, string]), ...sans.dns.map((v) => ['DNS', v] as [string, string]), ...sans.ips.map((v) => ['IP Address', v] as [string, string])];
}

/** The first URI SAN (the SPIFFE identity), if any. */
export function peerUri(cert: PeerCertificate | undefined): string | undefined {
  for (const [t, v] of peerSans(cert)) if (t === 'URI') return v;
  return undefined;
}

/** Check the spec's SAN matchers against a peer certificate; returns an error message or undefined. */
export function checkSans(spec: TlsSpec, cert: PeerCertificate | undefined): string | undefined {
  if (spec.sanMatchers.length === 0) return undefined;
  const sans = peerSans(cert);
  for (const m of spec.sanMatchers) {
    for (const [t, v] of sans) {
      if ((m.type === 'ANY' && (t === 'URI' || t === 'DNS' || t === 'IP Address')) || m.type === t) {
        if (m.match(v)) return undefined;
      }
    }
  }
  return `peer certificate SANs [${sans.map(([t, v]) => `${t}:${v}`).join(', ')}] match none of ${spec.sanMatchers.map((m) => m.text).join(', ')}`;
}
