import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';

/** The `jose` module, loaded on first use: a proxy without JWT-carrying traffic never loads it (~10 MB RSS). */
export type Jose = typeof import('jose');

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
  private josePromise: Promise<Jose> | undefined;

  /** `jose`, imported the first time a token is verified. */
  jose(): Promise<Jose> {
    this.josePromise ??= import('jose');
    return this.josePromise;
  }

  localSet(jwks: JSONWebKeySet, text: string): JWTVerifyGetKey {
    let s = this.local.get(text);
    if (!s) {
      let inner: JWTVerifyGetKey | undefined;
      s = async (header, token) => {
        inner ??= (await this.jose()).createLocalJWKSet(jwks);
        return inner(header, token);
      };
      this.local.set(text, s);
    }
    return s;
  }

  remoteSet(uri: string, cacheMs: number, timeoutMs: number): JWTVerifyGetKey {
    const key = `${uri}|${cacheMs}|${timeoutMs}`;
    let s = this.remote.get(key);
    if (!s) {
      let inner: ReturnType<Jose['createRemoteJWKSet']> | undefined;
      s = async (header, token) => {
        inner ??= (await this.jose()).createRemoteJWKSet(new URL(uri), { cacheMaxAge: cacheMs, timeoutDuration: timeoutMs, cooldownDuration: Math.min(30_000, cacheMs) });
        if (!inner.fresh) this.fetches++;
        return inner(header, token);
      };
      this.remote.set(key, s);
    }
    return s;
  }
}
