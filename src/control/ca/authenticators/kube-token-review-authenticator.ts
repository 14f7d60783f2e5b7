import { formatSpiffeId } from '../../../lib/spiffe.ts';
import type { AuthenticationResult, Authenticator, CallerCredentials } from './authenticator.ts';

/**
 * The slot for Kubernetes mode: bearer tokens checked by the API server's TokenReview
 * (authentication.k8s.io/v1), as istiod's KubeJWTAuthenticator does. The Kubernetes client is
 * injected as `review`; wiring it to a real API server belongs to the Kubernetes issue.
 */
export interface TokenReviewStatus {
  authenticated: boolean;
  /** `system:serviceaccount:NS:SA` when authenticated. */
  username?: string;
  audiences?: string[];
  error?: string;
}

export type TokenReviewer = (token: string, audiences: readonly string[]) => Promise<TokenReviewStatus>;

export class KubeTokenReviewAuthenticator implements Authenticator {
  readonly name = 'kube-token-review';
  private readonly review: TokenReviewer;
  private readonly trustDomain: string;
  private readonly audiences: readonly string[];

  constructor(o: { review: TokenReviewer; trustDomain: string; audiences?: readonly string[] }) {
    this.review = o.review;
    this.trustDomain = o.trustDomain;
    this.audiences = o.audiences ?? ['istio-ca'];
  }

  async authenticate(c: CallerCredentials): Promise<AuthenticationResult | undefined> {
    if (!c.bearerToken) return undefined;
    const status = await this.review(c.bearerToken, this.audiences);
    if (!status.authenticated) return { ok: false, reason: `TokenReview refused the token: ${status.error ?? 'not authenticated'}` };
    if (status.audiences && !status.audiences.some((a) => this.audiences.includes(a))) {
      return { ok: false, reason: `token audiences ${status.audiences.join(',')} do not include ${this.audiences.join(',')}` };
    }
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(status.username ?? '');
    if (!m) return { ok: false, reason: `TokenReview user ${JSON.stringify(status.username)} is not a service account` };
    return { ok: true, authenticator: this.name, identity: formatSpiffeId({ trustDomain: this.trustDomain, namespace: m[1], serviceAccount: m[2] }) };
  }
}
