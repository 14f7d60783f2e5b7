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
 *
 * TLS sessions survive a rotation of the proxy's own certificate but not a change of what it
 * trusts: a context rebuilt with the same trusted CAs takes over the session ticket keys of the
 * one it replaces (server side), and `trustTag` (what the client's session cache is keyed by)
 * changes only with the trusted CAs. So when one side of a connection has renewed its certificate
 * and the other not yet, connections between them still resume the sessions both verified, as
 * they did before the renewal, instead of failing full handshakes against a peer certificate that
 * expired while the CA was unreachable.
 */
export class TlsContextFactory {
  private readonly secrets: SecretProvider;
  private readonly cache = new Map<string, { ctx: tls.SecureContext; uses: string[]; trust: string }>();
  /** Ticket keys and trust of contexts dropped by a secret change, for their successors. */
  private readonly retired = new Map<string, { ticketKeys: Buffer; trust: string }>();
  private readonly off: () => void;
  /** Bumped on every secret change. */
  generation = 0;

  constructor(secrets: SecretProvider) {
    this.secrets = secrets;
    this.off = secrets.onChange((name) => {
      this.generation++;
      for (const [k, v] of this.cache) {
        if (!v.uses.includes(name)) continue;
        const keys = ticketKeysOf(v.ctx);
        if (keys) this.retired.set(k, { ticketKeys: keys, trust: v.trust });
        this.cache.delete(k);
      }
    });
  }

  close(): void {
    this.off();
    this.cache.clear();
    this.retired.clear();
  }

  /** What the context of `spec` trusts (a digest of its CAs and CRL); '' before it is built. */
  trustTag(spec: TlsSpec): string {
    return this.cache.get(spec.key)?.trust ?? '';
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
    const trust = createHash('sha256').update(JSON.stringify([opts.ca ?? null, opts.crl ?? null])).digest('hex');
    const before = this.retired.get(spec.key);
    if (before) {
      this.retired.delete(spec.key);
      if (before.trust === trust) setTicketKeys(ctx, before.ticketKeys);
    }
    this.cache.set(spec.key, { ctx, uses, trust });
    return ctx;
  }
}

/** The native context's session ticket keys (node's tls.Server get/setTicketKeys do the same on theirs). */
interface NativeTicketKeys {
  getTicketKeys?: () => Buffer;
  setTicketKeys?: (keys: Buffer) => void;
}

function ticketKeysOf(ctx: tls.SecureContext): Buffer | undefined {
  return (ctx.context as NativeTicketKeys | undefined)?.getTicketKeys?.();
}

function setTicketKeys(ctx: tls.SecureContext, keys: Buffer): void {
  (ctx.context as NativeTicketKeys | undefined)?.setTicketKeys?.(keys);
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
