import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { HeaderList } from '../../src/data/http1/header-list.ts';
import type { FilterContext, FilterVerdict, HttpFilter, LocalReply } from '../../src/data/l7/http-filter.ts';
import { StreamInfo } from '../../src/data/l7/stream-info.ts';
import { JwksCache } from '../../src/data/policy/jwks-cache.ts';
import { createJwtAuthnFilter, JWT_METADATA_NS } from '../../src/data/policy/jwt-authn-filter.ts';
import { ResourceRejection } from '../../src/data/xds-client/resource-rejection.ts';

type Obj = Record<string, unknown>;

function ctx(path: string, headers: Record<string, string> = {}, perRoute?: Obj): FilterContext {
  const h = new HeaderList();
  for (const [k, v] of Object.entries(headers)) h.add(k, v);
  const route = perRoute ? ({ name: 'r', perFilterConfig: new Map([['envoy.filters.http.jwt_authn', perRoute]]) } as unknown as FilterContext['route']) : undefined;
  return { request: { method: 'GET', path, authority: 'svc', scheme: 'http', headers: h }, info: new StreamInfo(), route };
}

async function run(f: HttpFilter, c: FilterContext): Promise<LocalReply | undefined> {
  return (await f.decodeHeaders!(c)) as FilterVerdict;
}

describe('jwt_authn requirements', () => {
  let jwks: string;
  let key: CryptoKey;
  const token = (iss: string, claims: Obj = {}) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer(iss).setSubject('s').setExpirationTime('1h').sign(key);

  before(async () => {
    const kp = await generateKeyPair('ES256', { extractable: true });
    key = kp.privateKey;
    jwks = JSON.stringify({ keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'k', alg: 'ES256' }] });
  });

  const filter = (config: Obj) => createJwtAuthnFilter('envoy.filters.http.jwt_authn', config, 'Listener l.typedConfig', { jwks: new JwksCache() });
  const providers = () => ({
    a: { issuer: 'a', localJwks: { inlineString: jwks }, fromHeaders: [{ name: 'x-a-token', valuePrefix: 'Token ' }], payloadInMetadata: 'a', forward: true },
    b: { issuer: 'b', localJwks: { inlineString: jwks }, fromParams: ['tok'], payloadInMetadata: 'b', forwardPayloadHeader: 'x-b-payload' },
  });

  it('requires_all needs every provider; tokens come from custom headers and query parameters', async () => {
    const f = filter({ providers: providers(), rules: [{ match: { prefix: '/' }, requires: { requiresAll: { requirements: [{ providerName: 'a' }, { providerName: 'b' }] } } }] });
    const both = ctx(`/x?tok=${await token('b')}`, { 'x-a-token': `Token ${await token('a')}` });
    assert.equal(await run(f, both), undefined);
    const md = both.info.filterState.get(JWT_METADATA_NS) as Obj;
    assert.equal((md.a as Obj).iss, 'a');
    assert.equal((md.b as Obj).iss, 'b');
    assert.ok(both.request.headers.get('x-a-token'), 'forward: true keeps the token');
    assert.equal(JSON.parse(Buffer.from(both.request.headers.get('x-b-payload')!, 'base64url').toString()).iss, 'b');
    const onlyA = await run(f, ctx('/x', { 'x-a-token': `Token ${await token('a')}` }));
    assert.equal(onlyA?.status, 401);
    assert.equal(onlyA?.body, 'Jwt is missing');
  });

  it('allow_missing_or_failed lets bad tokens through without payload', async () => {
    const f = filter({ providers: providers(), rules: [{ match: { prefix: '/' }, requires: { allowMissingOrFailed: {} } }] });
    const c = ctx('/x?tok=garbage');
    assert.equal(await run(f, c), undefined);
    assert.equal(c.info.filterState.get(JWT_METADATA_NS), undefined);
  });

  it('selects requirements by rule match and requirement_name, and per-route config can disable it', async () => {
    const f = filter({
      providers: providers(),
      requirementMap: { needA: { providerName: 'a' } },
      rules: [{ match: { path: '/open' } }, { match: { prefix: '/' }, requirementName: 'needA' }],
    });
    assert.equal(await run(f, ctx('/open')), undefined, 'a rule without requires needs nothing');
    assert.equal((await run(f, ctx('/closed')))?.status, 401);
    assert.equal(await run(f, ctx('/closed', {}, { disabled: true })), undefined);
  });

  it('checks provider_and_audiences', async () => {
    const f = filter({ providers: providers(), rules: [{ match: { prefix: '/' }, requires: { providerAndAudiences: { providerName: 'a', audiences: ['x'] } } }] });
    assert.equal(await run(f, ctx('/', { 'x-a-token': `Token ${await token('a', { aud: 'x' })}` })), undefined);
    assert.equal((await run(f, ctx('/', { 'x-a-token': `Token ${await token('a', { aud: 'y' })}` })))?.status, 403);
  });

  it('caches verified tokens until they expire (clock injected)', async () => {
    let now = Date.now();
    const f = createJwtAuthnFilter('jwt', { providers: { a: providers().a }, rules: [{ match: { prefix: '/' }, requires: { providerName: 'a' } }] }, 'l', { jwks: new JwksCache(), now: () => now });
    const t = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('a').setExpirationTime(Math.floor(now / 1000) + 120).sign(key);
    assert.equal(await run(f, ctx('/', { 'x-a-token': `Token ${t}` })), undefined);
    assert.equal(await run(f, ctx('/', { 'x-a-token': `Token ${t}` })), undefined, 'served from the cache');
    now += 120_000 + 61_000; // past exp and the 60 s clock skew
    const r = await run(f, ctx('/', { 'x-a-token': `Token ${t}` }));
    assert.equal(r?.status, 401);
    assert.equal(r?.body, 'Jwt is expired');
  });

  it('rejects configs it cannot honour, naming the field', () => {
    assert.throws(() => filter({ providers: { p: { issuer: 'p' } } }), (e: unknown) => e instanceof ResourceRejection && /providers\[p\]: a provider needs local_jwks or remote_jwks/.test(e.message));
    assert.throws(() => filter({ providers: { p: { issuer: 'p', localJwks: { inlineString: 'not json' } } } }), (e: unknown) => e instanceof ResourceRejection && /providers\[p\]\.localJwks: invalid JWKS/.test(e.message));
    assert.throws(() => filter({ providers: providers(), rules: [{ match: { prefix: '/' }, requires: { providerName: 'zzz' } }] }), (e: unknown) => e instanceof ResourceRejection && /rules\[0\]\.requires\.providerName: unknown provider zzz/.test(e.message));
    assert.throws(() => filter({ providers: providers(), filterStateRules: {} }), (e: unknown) => e instanceof ResourceRejection && /filterStateRules/.test(e.message));
  });
});
