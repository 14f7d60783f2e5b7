import type { TLSSocket } from 'node:tls';

/** The SPIFFE URI SANs of a certificate's `subjectaltname` text (`URI:spiffe://..., DNS:...`). */
export function spiffeSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const out: string[] = [];
  for (const part of subjectAltName.split(/,\s*/)) if (part.startsWith('URI:spiffe://')) out.push(part.slice(4));
  return out;
}

/** The peer's SPIFFE identity on a verified TLS connection (first URI SAN), cached on the socket. */
export function peerIdentity(socket: TLSSocket): string | undefined {
  const s = socket as TLSSocket & { mizzenPeerIdentity?: string | null };
  if (s.mizzenPeerIdentity !== undefined) return s.mizzenPeerIdentity ?? undefined;
  const cert = socket.authorized ? socket.getPeerCertificate(false) : undefined;
  const id = cert && 'subjectaltname' in cert ? spiffeSans(cert.subjectaltname)[0] : undefined;
  s.mizzenPeerIdentity = id ?? null;
  return id;
}

/** `spiffe://td/ns/x/sa/y` → `td/ns/x/sa/y` (how policies and ztunnel's logs write principals). */
export function principalOf(identity: string | undefined): string | undefined {
  return identity?.startsWith('spiffe://') ? identity.slice('spiffe://'.length) : identity;
}
