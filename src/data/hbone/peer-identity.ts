import type { PeerCertificate, TLSSocket } from 'node:tls';
import { certificateSansOfDer } from '../../lib/certificate-info.ts';

/** The SPIFFE URI SANs of a peer certificate, read from its DER. */
export function spiffeSans(cert: PeerCertificate | undefined): string[] {
  return certificateSansOfDer(cert?.raw).uris.filter((u) => u.startsWith('spiffe://'));
}

/** The peer's SPIFFE identity on a verified TLS connection (first URI SAN), cached on the socket. */
export function peerIdentity(socket: TLSSocket): string | undefined {
  const s = socket as TLSSocket & { mizzenPeerIdentity?: string | null };
  if (s.mizzenPeerIdentity !== undefined) return s.mizzenPeerIdentity ?? undefined;
  const cert = socket.authorized ? socket.getPeerCertificate(false) : undefined;
  const id = cert ? spiffeSans(cert)[0] : undefined;
  s.mizzenPeerIdentity = id ?? null;
  return id;
}

/** `spiffe://td/ns/x/sa/y` → `td/ns/x/sa/y` (how policies and ztunnel's logs write principals). */
export function principalOf(identity: string | undefined): string | undefined {
  return identity?.startsWith('spiffe://') ? identity.slice('spiffe://'.length) : identity;
}
