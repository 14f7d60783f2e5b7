import { readFileSync } from 'node:fs';
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import { asArray, asNumber, asObj, asString, durationMs, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import type { FilterRequest } from '../l7/http-filter.ts';
import type { JwksCache } from './jwks-cache.ts';

/** Envoy's jwt_authn statuses (message text as Envoy's `Status` strings). */
export const JWT_STATUS = Object.freeze({
  missing: 'Jwt is missing',
  expired: 'Jwt is expired',
  notYetValid: 'Jwt not yet valid',
  verificationFail: 'Jwt verification fails',
  unknownIssuer: 'Jwt issuer is not configured',
  audienceNotAllowed: 'Audiences in Jwt are not allowed',
  badFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  jwksFetchFail: 'Jwks remote fetch is failed',
});

export type JwtStatus = 'ok' | (typeof JWT_STATUS)[keyof typeof JWT_STATUS];

/** Where a provider looks for its token. */
interface TokenLocation {
  kind: 'header' | 'param' | 'cookie';
  name: string;
  prefix: string;
}

export interface FoundToken {
  token: string;
  location: TokenLocation;
}

const PROVIDER_FIELDS = [
  'issuer', 'audiences', 'subjects', 'requireExpiration', 'maxLifetime', 'remoteJwks', 'localJwks', 'forward', 'fromHeaders',
  'fromParams', 'fromCookies', 'forwardPayloadHeader', 'padForwardPayloadHeader', 'payloadInMetadata', 'headerInMetadata',
  'failedStatusInMetadata', 'normalizePayloadInMetadata', 'clockSkewSeconds', 'jwtCacheConfig', 'claimToHeaders', 'clearRouteCache',
];

/**
 * A compiled JwtProvider: finds its token (from_headers / from_params / from_cookies, default
 * `Authorization: Bearer` and `access_token`), checks issuer, signature (inline or remote JWKS
 * via `jose`), exp/nbf with clock skew and audiences.
 */
export class JwtProvider {
  readonly name: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly forward: boolean;
  readonly payloadInMetadata: string;
  readonly forwardPayloadHeader: string;
  readonly claimToHeaders: readonly { header: string; claim: string }[];
  private readonly locations: readonly TokenLocation[];
  private readonly keys!: JWTVerifyGetKey;
  private readonly jwks: JwksCache;
  private readonly skewSec: number;
  private readonly requireExp: boolean;
  private readonly now: () => number;
  /** Verified tokens (Envoy's jwt_cache_config, default 100 entries): skips the signature check. */
  private readonly verified = new Map<string, JWTPayload>();
  private readonly cacheSize: number;

  constructor(name: string, o: Obj, path: string, jwks: JwksCache, now: () => number) {
    onlyFields(o, path, PROVIDER_FIELDS);
    for (const f of ['subjects', 'maxLifetime', 'headerInMetadata', 'failedStatusInMetadata', 'normalizePayloadInMetadata']) {
      if (o[f] !== undefined) reject(`${path}.${f}`, 'field not supported by mizzen proxy');
    }
    this.name = name;
    this.issuer = asString(o.issuer);
    this.audiences = (o.audiences as string[] | undefined) ?? [];
    this.forward = o.forward === true;
    this.payloadInMetadata = asString(o.payloadInMetadata);
    this.forwardPayloadHeader = asString(o.forwardPayloadHeader).toLowerCase();
    this.claimToHeaders = asArray(o.claimToHeaders).map((c) => ({ header: asString(c.headerName).toLowerCase(), claim: asString(c.claimName) }));
    this.skewSec = o.clockSkewSeconds !== undefined ? asNumber(o.clockSkewSeconds) : 60;
    this.requireExp = o.requireExpiration === true;
    this.now = now;
    this.jwks = jwks;
    const cacheCfg = asObj(o.jwtCacheConfig);
    this.cacheSize = cacheCfg.jwtCacheSize !== undefined ? asNumber(cacheCfg.jwtCacheSize) : 100;
    const locs: TokenLocation[] = [];
    asArray(o.fromHeaders).forEach((h, i) => {
      onlyFields(h, `${path}.fromHeaders[${i}]`, ['name', 'valuePrefix']);
      locs.push({ kind: 'header', name: asString(h.name).toLowerCase(), prefix: asString(h.valuePrefix) });
    });
    for (const p of (o.fromParams as string[] | undefined) ?? []) locs.push({ kind: 'param', name: p, prefix: '' });
    for (const c of (o.fromCookies as string[] | undefined) ?? []) locs.push({ kind: 'cookie', name: c, prefix: '' });
    if (locs.length === 0) locs.push({ kind: 'header', name: 'authorization', prefix: 'Bearer ' }, { kind: 'param', name: 'access_token', prefix: '' });
    this.locations = locs;
    if (o.localJwks !== undefined && o.remoteJwks !== undefined) reject(path, 'only one of local_jwks and remote_jwks may be set');
    if (o.localJwks !== undefined) {
      const ds = asObj(o.localJwks);
      onlyFields(ds, `${path}.localJwks`, ['inlineString', 'inlineBytes', 'filename', 'environmentVariable']);
      let text: string;
      if (typeof ds.inlineString === 'string') text = ds.inlineString;
      else if (typeof ds.inlineBytes === 'string') text = Buffer.from(ds.inlineBytes, 'base64').toString();
      else if (typeof ds.filename === 'string') {
        try {
          text = readFileSync(ds.filename, 'utf8');
        } catch (err) {
          return reject(`${path}.localJwks.filename`, `cannot read ${ds.filename}: ${(err as Error).message}`);
        }
      } else return reject(`${path}.localJwks`, 'needs inline_string, inline_bytes or filename');
      let set: JSONWebKeySet;
      try {
        set = JSON.parse(text) as JSONWebKeySet;
        if (!Array.isArray(set.keys)) throw new Error('no "keys" array');
      } catch (err) {
        return reject(`${path}.localJwks`, `invalid JWKS (only JSON Web Key Sets are supported): ${(err as Error).message}`);
      }
      this.keys = jwks.localSet(set, text);
    } else if (o.remoteJwks !== undefined) {
      const r = asObj(o.remoteJwks);
      onlyFields(r, `${path}.remoteJwks`, ['httpUri', 'cacheDuration', 'asyncFetch', 'retryPolicy']);
      const hu = asObj(r.httpUri);
      onlyFields(hu, `${path}.remoteJwks.httpUri`, ['uri', 'cluster', 'timeout']);
      const uri = asString(hu.uri);
      try {
        const u = new URL(uri);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`scheme ${u.protocol}`);
      } catch (err) {
        return reject(`${path}.remoteJwks.httpUri.uri`, `invalid JWKS URI ${JSON.stringify(uri)}: ${(err as Error).message}`);
      }
      this.keys = jwks.remoteSet(uri, durationMs(r.cacheDuration) ?? 600_000, durationMs(hu.timeout) ?? 5000);
    } else return reject(path, 'a provider needs local_jwks or remote_jwks');
  }

  /** The provider's token in the request (first location that has one). */
  find(req: FilterRequest): FoundToken | undefined {
    for (const loc of this.locations) {
      const t = extract(req, loc);
      if (t) return { token: t, location: loc };
    }
    return undefined;
  }

  /** Verify a token; resolves to 'ok' with the payload, or an Envoy status message. */
  async verify(token: string): Promise<{ status: JwtStatus; payload?: JWTPayload }> {
    const hit = this.verified.get(token);
    if (hit) {
      const nowSec = this.now() / 1000;
      if (hit.exp === undefined || nowSec < hit.exp + this.skewSec) return { status: 'ok', payload: hit };
      this.verified.delete(token);
    }
    const r = await this.verifyUncached(token);
    if (r.status === 'ok' && r.payload && this.cacheSize > 0) {
      if (this.verified.size >= this.cacheSize) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, r.payload);
    }
    return r;
  }

  private async verifyUncached(token: string): Promise<{ status: JwtStatus; payload?: JWTPayload }> {
    const { decodeJwt, errors, jwtVerify } = await this.jwks.jose();
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      return { status: JWT_STATUS.badFormat };
    }
    if (this.issuer && claims.iss !== this.issuer) return { status: JWT_STATUS.unknownIssuer };
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        clockTolerance: this.skewSec,
        currentDate: new Date(this.now()),
        requiredClaims: this.requireExp ? ['exp'] : [],
      });
      if (this.audiences.length > 0) {
        const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
        if (!aud.some((a) => this.audiences.includes(a))) return { status: JWT_STATUS.audienceNotAllowed };
      }
      return { status: 'ok', payload };
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { status: JWT_STATUS.expired };
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf') return { status: JWT_STATUS.notYetValid };
      if (err instanceof errors.JWKSTimeout || (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC' && /fetch|network/i.test(err.message))) return { status: JWT_STATUS.jwksFetchFail };
      if (err instanceof TypeError) return { status: JWT_STATUS.jwksFetchFail };
      if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return { status: JWT_STATUS.badFormat };
      return { status: JWT_STATUS.verificationFail };
    }
  }

  /** Remove the token from where it came (forward: false); headers only, as Envoy. */
  strip(req: FilterRequest, found: FoundToken): void {
    if (found.location.kind === 'header') req.headers.remove(found.location.name);
  }
}

function extract(req: FilterRequest, loc: TokenLocation): string | undefined {
  if (loc.kind === 'header') {
    const v = req.headers.get(loc.name);
    if (v === undefined) return undefined;
    if (loc.prefix) {
      // Envoy compares the prefix case-insensitively for `Bearer `
      if (v.length <= loc.prefix.length || v.slice(0, loc.prefix.length).toLowerCase() !== loc.prefix.toLowerCase()) return undefined;
      return v.slice(loc.prefix.length).trim() || undefined;
    }
    return v.trim() || undefined;
  }
  if (loc.kind === 'param') {
    const q = req.path.indexOf('?');
    if (q < 0) return undefined;
    const v = new URLSearchParams(req.path.slice(q + 1)).get(loc.name);
    return v || undefined;
  }
  const cookie = req.headers.getAll('cookie');
  if (!cookie) return undefined;
  for (const part of cookie.split(/[;,]\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === loc.name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
