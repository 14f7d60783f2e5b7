import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/**
 * Key sets for jwt_authn providers, shared by every listener config of one proxy so that a
 * config push does not refetch remote JWKS: remote sets by URI (fetched on first use, cached for
 * `cache_duration`, refetched when a token names an unknown `kid`), inline sets by content.
 */
export class JwksCache {
  private readonly remote = new Map<string, JWTVerifyGetKey>();
  private readonly local = new Map<string, JWTVerifyGetKey>();
  /** Remote fetches started (for tests and /stats). */
  fetches = 0;

  localSet(jwks: JSONWebKeySet, text: string): JWTVerifyGetKey {
    let s = this.local.get(text);
    if (!s) {
      s = createLocalJWKSet(jwks);
      this.local.set(text, s);
    }
    return s;
  }

  remoteSet(uri: string, cacheMs: number, timeoutMs: number): JWTVerifyGetKey {
    const key = `${uri}|${cacheMs}|${timeoutMs}`;
    let s = this.remote.get(key);
    if (!s) {
      const inner = createRemoteJWKSet(new URL(uri), { cacheMaxAge: cacheMs, timeoutDuration: timeoutMs, cooldownDuration: Math.min(30_000, cacheMs) });
      s = (header, token) => {
        if (!inner.fresh) this.fetches++;
        return inner(header, token);
      };
      this.remote.set(key, s);
    }
    return s;
  }
}
