/**
 * How the CA learns who is asking. Each authenticator looks at the credentials of one call and
 * says "not mine" (undefined), "authenticated as <SPIFFE URI>" or "refused because ...". The
 * CA tries them in order and takes the first success; reasons go to logs only.
 *
 * Implementations: JWT service-account tokens (local mode), mesh client certificates over mTLS
 * (renewal on 15012), and a slot for Kubernetes TokenReview (kube-token-review-authenticator.ts).
 */
export interface CallerCredentials {
  /** The bearer token from the `authorization` metadata, if any. */
  bearerToken?: string;
  /** DER of the client certificate, present only when TLS verified it against the mesh root. */
  peerCertificate?: Buffer;
}

/** What a Kubernetes-style credential says about the calling pod (bound service-account tokens). */
export interface CallerPod {
  namespace: string;
  serviceAccount: string;
  podName?: string;
  podUid?: string;
}

export type AuthenticationResult =
  | { ok: true; identity: string; authenticator: string; pod?: CallerPod }
  | { ok: false; reason: string };

export interface Authenticator {
  readonly name: string;
  /** undefined when the call carries no credential of this authenticator's kind. */
  authenticate(credentials: CallerCredentials): Promise<AuthenticationResult | undefined>;
}

/** Try every authenticator; the first success wins, otherwise all reasons are combined. */
export async function authenticateCaller(authenticators: readonly Authenticator[], credentials: CallerCredentials): Promise<AuthenticationResult> {
  const reasons: string[] = [];
  for (const a of authenticators) {
    let result: AuthenticationResult | undefined;
    try {
      result = await a.authenticate(credentials);
    } catch (err) {
      result = { ok: false, reason: `authenticator error: ${(err as Error).message}` };
    }
    if (!result) continue;
    if (result.ok) return result;
    reasons.push(`${a.name}: ${result.reason}`);
  }
  return { ok: false, reason: reasons.length > 0 ? reasons.join('; ') : 'no credentials (neither a bearer token nor a client certificate)' };
}
