import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import type { RequestAuthenticationSpec } from '../../src/api/istio/request-authentication.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { buildRbac } from '../../src/control/generate/authz-rbac.ts';
import { buildJwtAuthn } from '../../src/control/generate/jwt-authn.ts';
import { address, hcm, routeConfig, route, staticCluster, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer, type EchoReply } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';

type Obj = Record<string, unknown>;

function resource<S>(kind: string, name: string, spec: S): ConfigResource<S> {
  return { apiVersion: 'security.istio.io/v1', kind, group: 'security.istio.io', version: 'v1', metadata: { name, namespace: 'default' }, spec } as ConfigResource<S>;
}

function asProto(filter: Obj): Obj {
  const { '@type': type, ...body } = filter.typedConfig as Obj;
  return { name: filter.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

const ISSUER = 'https://issuer.example.com';
const REMOTE_ISSUER = 'https://remote.example.com';

describe('JWT (RequestAuthentication → jwt_authn) and claims in authorization', () => {
  let h: Harness;
  let app: EchoServer;
  let jwksServer: http.Server;
  let jwksFetches = 0;
  let localKey: CryptoKey;
  let remoteKey: CryptoKey;
  let strangerKey: CryptoKey;

  const sign = (key: CryptoKey, kid: string, claims: Obj, opts: { iss?: string; exp?: number | string } = {}): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setIssuer(opts.iss ?? ISSUER).setSubject(String(claims.sub ?? 'alice')).setIssuedAt().setExpirationTime(opts.exp ?? '1h').sign(key);

  before(async () => {
    const local = await generateKeyPair('RS256', { extractable: true });
    const remote = await generateKeyPair('RS256', { extractable: true });
    const stranger = await generateKeyPair('RS256', { extractable: true });
    localKey = local.privateKey;
    remoteKey = remote.privateKey;
    strangerKey = stranger.privateKey;
    const jwk = async (k: CryptoKey, kid: string): Promise<JWK> => ({ ...(await exportJWK(k)), kid, alg: 'RS256', use: 'sig' });
    const localJwks = JSON.stringify({ keys: [await jwk(local.publicKey, 'local')] });
    const remoteJwks = JSON.stringify({ keys: [await jwk(remote.publicKey, 'remote')] });
    jwksServer = http.createServer((req, res) => {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(remoteJwks);
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    app = await new EchoServer('app').start();
    const jwt = buildJwtAuthn([
      resource<RequestAuthenticationSpec>('RequestAuthentication', 'local', { jwtRules: [{ issuer: ISSUER, jwks: localJwks, audiences: ['bookinfo'] }] }),
      resource<RequestAuthenticationSpec>('RequestAuthentication', 'remote', { jwtRules: [{ issuer: REMOTE_ISSUER, jwksUri, outputClaimToHeaders: [{ header: 'x-jwt-sub', claim: 'sub' }] }] }),
    ])!;
    const rbac = buildRbac([
      resource<AuthorizationPolicySpec>('AuthorizationPolicy', 'require-jwt', {
        rules: [
          { to: [{ operation: { paths: ['/open*'] } }] },
          { from: [{ source: { requestPrincipals: ['*'] } }], to: [{ operation: { paths: ['/secure*'] } }] },
          { from: [{ source: { requestPrincipals: [`${ISSUER}/alice`] } }], to: [{ operation: { paths: ['/alice*'] } }] },
          { to: [{ operation: { paths: ['/admin*'] } }], when: [{ key: 'request.auth.claims[groups]', values: ['admin'] }] },
        ],
      }),
    ], false);
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [{ name: 'in', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND', filterChains: [{ filters: [hcm('in', {}, [asProto(jwt), asProto(rbac.allow!)])] }] }],
      routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h.close();
    await app.stop();
    jwksServer.closeAllConnections();
    await new Promise<void>((r) => jwksServer.close(() => r()));
  });

  const get = (path: string, token?: string) => request(h.port('in'), { path, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('lets requests without a token through to authorization (RequestAuthentication alone does not require one)', async () => {
    assert.equal((await get('/open')).status, 200);
    const r = await get('/secure');
    assert.equal(r.status, 403);
    assert.equal(r.body, 'RBAC: access denied');
  });

  it('accepts a valid token (inline JWKS), feeds requestPrincipals and strips the token', async () => {
    const t = await sign(localKey, 'local', { aud: 'bookinfo' });
    const r = await get('/secure', t);
    assert.equal(r.status, 200);
    assert.equal(r.json<EchoReply>().headers.authorization, undefined);
    assert.equal((await get('/alice', t)).status, 200);
    const bob = await sign(localKey, 'local', { aud: 'bookinfo', sub: 'bob' });
    assert.equal((await get('/alice', bob)).status, 403);
  });

  it('rejects invalid tokens with 401 and www-authenticate', async () => {
    const forged = await sign(strangerKey, 'local', { aud: 'bookinfo' });
    const r = await get('/open', forged);
    assert.equal(r.status, 401);
    assert.equal(r.body, 'Jwt verification fails');
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/open", error="invalid_token"$/);
    const expired = await sign(localKey, 'local', { aud: 'bookinfo' }, { exp: Math.floor(Date.now() / 1000) - 3600 });
    const e = await get('/open', expired);
    assert.equal(e.status, 401);
    assert.equal(e.body, 'Jwt is expired');
    const unknown = await sign(localKey, 'local', { aud: 'bookinfo' }, { iss: 'https://nobody.example.com' });
    assert.equal((await get('/open', unknown)).status, 401);
    assert.equal((await get('/open', 'not-a-jwt')).status, 401);
  });

  it('checks audiences', async () => {
    const wrongAud = await sign(localKey, 'local', { aud: 'other' });
    const r = await get('/open', wrongAud);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'Audiences in Jwt are not allowed');
  });

  it('exposes claims to authorization (request.auth.claims)', async () => {
    assert.equal((await get('/admin', await sign(localKey, 'local', { aud: 'bookinfo', groups: ['admin', 'dev'] }))).status, 200);
    assert.equal((await get('/admin', await sign(localKey, 'local', { aud: 'bookinfo', groups: ['dev'] }))).status, 403);
    assert.equal((await get('/admin')).status, 403);
  });

  it('verifies with a JWKS fetched from jwksUri, cached across requests', async () => {
    const t = await sign(remoteKey, 'remote', { sub: 'carol' }, { iss: REMOTE_ISSUER });
    const r1 = await get('/secure', t);
    assert.equal(r1.status, 200);
    assert.equal(r1.json<EchoReply>().headers['x-jwt-sub'], 'carol');
    assert.equal((await get('/secure', t)).status, 200);
    assert.equal(jwksFetches, 1);
  });
});
