import type { KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { Clock } from '../../../lib/clock.ts';
import { formatSpiffeId } from '../../../lib/spiffe.ts';
import { TOKEN_AUDIENCE } from '../service-account-token.ts';
import type { AuthenticationResult, Authenticator, CallerCredentials, CallerPod } from './authenticator.ts';

/** Local mode: bearer JWTs minted by `mizzen token` (ES256, key in --ca-dir). */
export class JwtServiceAccountAuthenticator implements Authenticator {
  readonly name = 'jwt';
  private readonly publicKey: KeyObject;
  private readonly trustDomain: string;
  private readonly clock: Clock;
  private readonly audience: string;

  constructor(o: { publicKey: KeyObject; trustDomain: string; clock: Clock; audience?: string }) {
    this.publicKey = o.publicKey;
    this.trustDomain = o.trustDomain;
    this.clock = o.clock;
    this.audience = o.audience ?? TOKEN_AUDIENCE;
  }

  async authenticate(c: CallerCredentials): Promise<AuthenticationResult | undefined> {
    if (!c.bearerToken) return undefined;
    let payload;
    try {
      ({ payload } = await jwtVerify(c.bearerToken, this.publicKey, {
        algorithms: ['ES256'],
        audience: this.audience,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(this.clock.now()),
      }));
    } catch (err) {
      const code = err instanceof joseErrors.JOSEError ? err.code : 'ERR_UNKNOWN';
      return { ok: false, reason: `token rejected (${code}): ${(err as Error).message}` };
    }
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(payload.sub ?? '');
    if (!m) return { ok: false, reason: `token subject ${JSON.stringify(payload.sub)} is not system:serviceaccount:NS:SA` };
    // A token bound to a pod names it (`kubernetes.io.pod`), as Kubernetes' projected tokens do.
    const bound = (payload['kubernetes.io'] as { pod?: { name?: unknown; uid?: unknown } } | undefined)?.pod;
    const pod: CallerPod = { namespace: m[1]!, serviceAccount: m[2]! };
    if (typeof bound?.name === 'string') pod.podName = bound.name;
    if (typeof bound?.uid === 'string') pod.podUid = bound.uid;
    try {
      return { ok: true, authenticator: this.name, identity: formatSpiffeId({ trustDomain: this.trustDomain, namespace: m[1]!, serviceAccount: m[2]! }), pod };
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  }
}
