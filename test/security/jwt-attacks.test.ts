import assert from 'node:assert/strict';
import { createHmac, createPublicKey, KeyObject, sign as cryptoSign } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { EchoServer, type EchoReply } from '../proxy/support/echo-server.ts';
import { address, staticCluster } from '../proxy/support/envoy-builders.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The tokens jwt_authn must never let through, against what discovery generates from Istio's
 * RequestAuthentication + AuthorizationPolicy (requires_any [provider, allow_missing], as istiod)
 * and the proxy's verification: each bad token is answered 401 (403 for a disallowed audience, as
 * Envoy's jwt_authn answers `JwtAudienceNotAllowed`) and never reaches the app; a JWKS that cannot
 * be fetched (connection refused, 500, not JSON, no answer within the rule's timeout) fails closed.
 * Each refusal has an accepted twin, so the suite cannot pass with everything broken.
 */
const ISSUER = 'https://issuer.example.com';
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const nowSec = (): number => Math.floor(Date.now() / 1000);

describe('JWT: the tokens a mesh must refuse (RequestAuthentication as generated, real HTTP)', () => {
  let h: Harness;
  let app: EchoServer;
  let key: CryptoKey;
  let stranger: CryptoKey;
  let publicPem: string;
  const servers: http.Server[] = [];
  let hung: net.Server;
  const hungSockets = new Set<net.Socket>();
  let closedPort: number;

  const sign = (k: CryptoKey, claims: Obj, header: Obj = {}, iss = ISSUER): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header }).setIssuer(iss).setSubject('alice').setIssuedAt().setExpirationTime('1h').sign(k);

  const listen = async (handler: http.RequestListener): Promise<number> => {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as net.AddressInfo).port;
  };

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    key = pair.privateKey;
    stranger = (await generateKeyPair('RS256', { extractable: true })).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    publicPem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const jwks = JSON.stringify({ keys: [jwk] });
    // JWKS servers: a good one (for the remote twin), then each way a fetch fails
    const good = await listen((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    const e500 = await listen((_q, r) => r.writeHead(500).end('boom'));
    const notJson = await listen((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [ {'));
    const noKeys = await listen((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": []}'));
    hung = net.createServer((s) => {
      // accepts, never answers
      hungSockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => hungSockets.delete(s));
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const rule = (issuer: string, where: string, extra = '') => `{ issuer: "${issuer}", ${where}${extra} }`;
    const config = `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: default }
spec:
  selector: { matchLabels: { app: server } }
  jwtRules:
  - ${rule(ISSUER, `jwks: '${jwks}'`, ', audiences: [server]')}
  - ${rule('https://remote.example', `jwksUri: "http://127.0.0.1:${good}/jwks"`)}
  - ${rule('https://refused.example', `jwksUri: "http://127.0.0.1:${closedPort}/jwks"`)}
  - ${rule('https://e500.example', `jwksUri: "http://127.0.0.1:${e500}/jwks"`)}
  - ${rule('https://notjson.example', `jwksUri: "http://127.0.0.1:${notJson}/jwks"`)}
  - ${rule('https://nokeys.example', `jwksUri: "http://127.0.0.1:${noKeys}/jwks"`)}
  - ${rule('https://hung.example', `jwksUri: "http://127.0.0.1:${(hung.address() as net.AddressInfo).port}/jwks"`, ', timeout: 1s')}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: default }
spec:
  selector: { matchLabels: { app: server } }
  rules:
  - to: [{ operation: { paths: ["/open*"] } }]
  - from: [{ source: { requestPrincipals: ["*"] } }]
    to: [{ operation: { paths: ["/secure*"] } }]
`;
    const res = generateAll(
      proxy({ ip: '10.244.0.10', labels: { app: 'server' }, serviceAccount: 'server', pod: 'server-0' }),
      pushContext(config, [{ name: 'server', vip: '10.96.0.10', ports: [{ port: 9080 }] }], [{ service: 'server', address: '10.244.0.10', labels: { app: 'server' }, serviceAccount: 'server' }]),
    );
    const vi = res.listeners.find((l) => (l.resource as Obj).name === 'virtualInbound')!.resource as Obj;
    const chain = structuredClone((vi.filterChains as Obj[]).find((c) => c.filterChainMatch?.destinationPort === 9080 && c.transportSocket === undefined)!);
    assert.ok(chain, 'a plaintext chain for 9080 (PERMISSIVE, the default)');
    const hcm = chain.filters.find((f: Obj) => f.name === 'envoy.filters.network.http_connection_manager');
    const names = hcm.typedConfig.httpFilters.map((f: Obj) => f.name);
    assert.ok(names.includes('envoy.filters.http.jwt_authn') && names.includes('envoy.filters.http.rbac'), names.join());
    delete chain.filterChainMatch;
    app = await new EchoServer('app').start();
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('inbound|9080||', [['127.0.0.1', app.port]])],
      listeners: [protoJsonToObject(codec().typeOfUrl(TYPE_URL.listener), { name: 'in', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND', filterChains: [chain] }).object as Obj],
    });
  });

  after(async () => {
    await h?.close();
    await app?.stop();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    for (const sk of hungSockets) sk.destroy();
    await new Promise<void>((r) => hung.close(() => r()));
  });

  const get = (path: string, token?: string) => request(h.port('in'), { path, headers: token ? { authorization: `Bearer ${token}` } : {} });

  /** 401 (or `code`) from jwt_authn, and the app never saw the request. */
  const refused = async (token: string, code = 401, path = '/open'): Promise<string> => {
    const before = app.count;
    const r = await get(path, token);
    assert.equal(r.status, code, `${r.status} ${r.body}`);
    assert.match(String(r.headers['www-authenticate'] ?? ''), code === 401 ? /error="invalid_token"/ : /.*/);
    assert.equal(app.count, before, 'the app saw the request');
    return r.body;
  };

  it('accepts a valid token (control case) and lets /secure through only with one', async () => {
    const t = await sign(key, { aud: 'server' });
    const r = await get('/secure', t);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json<EchoReply>().headers.authorization, undefined, 'the token is removed before the app');
    assert.equal((await get('/secure')).status, 403);
  });

  it('refuses alg "none" (unsigned), with and without a signature part, in the header and in access_token', async () => {
    const claims = { iss: ISSUER, sub: 'alice', aud: 'server', exp: nowSec() + 3600 };
    for (const header of [{ alg: 'none' }, { alg: 'none', kid: 'k1' }, { alg: 'None', kid: 'k1' }, { alg: 'NONE' }]) {
      await refused(`${b64(header)}.${b64(claims)}.`);
      await refused(`${b64(header)}.${b64(claims)}.${Buffer.from('x').toString('base64url')}`);
    }
    const before = app.count;
    const r = await request(h.port('in'), { path: `/secure?access_token=${b64({ alg: 'none' })}.${b64(claims)}.` });
    assert.equal(r.status, 401);
    assert.equal(app.count, before);
  });

  it('refuses HS256 signed with the RSA public key as the HMAC secret (algorithm confusion)', async () => {
    const claims = { iss: ISSUER, sub: 'alice', aud: 'server', exp: nowSec() + 3600 };
    for (const secret of [publicPem, publicPem.trim(), Buffer.from(JSON.stringify({}))]) {
      const head = `${b64({ alg: 'HS256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}`;
      await refused(`${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`);
    }
  });

  it('refuses a wrong issuer (even when signed by the configured key), and a wrong or missing audience (403, as Envoy)', async () => {
    assert.equal(await refused(await sign(key, { aud: 'server' }, {}, 'https://other.example')), 'Jwt issuer is not configured');
    assert.equal(await refused(await sign(key, { aud: 'server' }, {}, `${ISSUER}/`)), 'Jwt issuer is not configured');
    assert.equal(await refused(await sign(key, { aud: 'other' }), 403), 'Audiences in Jwt are not allowed');
    assert.equal(await refused(await sign(key, { aud: ['other', 'server-x'] }), 403), 'Audiences in Jwt are not allowed');
    assert.equal(await refused(await sign(key, {}), 403), 'Audiences in Jwt are not allowed');
    // twin: a list containing the audience is fine
    assert.equal((await get('/open', await sign(key, { aud: ['other', 'server'] }))).status, 200);
  });

  it('refuses expired and not-yet-valid tokens (beyond the 60 s clock skew), and malformed time claims', async () => {
    const base = { iss: ISSUER, sub: 'alice', aud: 'server' };
    const at = (claims: Obj) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(key);
    assert.equal(await refused(await at({ ...base, exp: nowSec() - 120 })), 'Jwt is expired');
    assert.equal(await refused(await at({ ...base, exp: nowSec() + 3600, nbf: nowSec() + 600 })), 'Jwt not yet valid');
    await refused(await at({ ...base, exp: String(nowSec() + 3600) }));
    await refused(await at({ ...base, exp: nowSec() + 3600, nbf: 'soon' }));
    // twin: within the skew is accepted, as Envoy's default clock_skew_seconds
    assert.equal((await get('/open', await at({ ...base, exp: nowSec() - 10 }))).status, 200);
  });

  it('refuses a signature by a key not in the JWKS (same kid, unknown kid, no kid) and a tampered payload', async () => {
    assert.equal(await refused(await sign(stranger, { aud: 'server' })), 'Jwt verification fails');
    await refused(await sign(stranger, { aud: 'server' }, { kid: 'k2' }));
    await refused(await new SignJWT({ aud: 'server' }).setProtectedHeader({ alg: 'RS256' }).setIssuer(ISSUER).setExpirationTime('1h').sign(stranger));
    const [hd, , sig] = (await sign(key, { aud: 'server', sub: 'alice' })).split('.');
    await refused(`${hd}.${b64({ iss: ISSUER, sub: 'admin', aud: 'server', exp: nowSec() + 3600 })}.${sig}`);
    // a critical header parameter the verifier does not understand (RFC 7515 §4.1.11), signed by the right key
    const critHead = `${b64({ alg: 'RS256', kid: 'k1', crit: ['x-unknown'], 'x-unknown': true })}.${b64({ iss: ISSUER, sub: 'alice', aud: 'server', exp: nowSec() + 3600 })}`;
    await refused(`${critHead}.${cryptoSign('sha256', Buffer.from(critHead), KeyObject.from(key)).toString('base64url')}`);
  });

  it('refuses tokens that are not JWTs at all', async () => {
    for (const t of ['a.b.c', 'x', `${b64({ alg: 'RS256' })}..`, '....', `${b64({ alg: 'RS256', kid: 'k1' })}.${b64('string')}.AA`]) await refused(t);
  });

  it('fails closed when the JWKS cannot be fetched: refused, 500, not JSON, no keys, no answer within the timeout', async () => {
    for (const iss of ['https://refused.example', 'https://e500.example', 'https://notjson.example', 'https://nokeys.example', 'https://hung.example']) {
      const t = await sign(key, {}, {}, iss);
      const body = await refused(t, 401, '/secure');
      assert.match(body, /Jwks remote fetch is failed|Jwt verification fails/, iss);
      // and again: a failed fetch is not cached as success
      await refused(t, 401, '/secure');
    }
    // twin: the same token shape from the issuer whose JWKS is reachable
    assert.equal((await get('/secure', await sign(key, {}, {}, 'https://remote.example'))).status, 200);
  });
});
