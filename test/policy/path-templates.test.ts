import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { buildRbac, rbacFilterList } from '../../src/control/generate/authz-rbac.ts';
import { validateResource } from '../../src/control/config/validation/validate-resource.ts';
import { uriTemplateRegex } from '../../src/lib/uri-template.ts';
import { address, hcm, route, routeConfig, staticCluster, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';

type Obj = Record<string, unknown>;

function policy(name: string, spec: AuthorizationPolicySpec): ConfigResource<AuthorizationPolicySpec> {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', group: 'security.istio.io', version: 'v1', metadata: { name, namespace: 'default' }, spec } as ConfigResource<AuthorizationPolicySpec>;
}

function filters(policies: ConfigResource<AuthorizationPolicySpec>[]): Obj[] {
  return rbacFilterList(buildRbac(policies, false)).map((f) => {
    const { '@type': type, ...body } = f.typedConfig as Obj;
    return { name: f.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
  });
}

describe('Envoy uri_template matching', () => {
  const matches = (t: string, p: string): boolean => new RegExp((uriTemplateRegex(t) as { regex: string }).regex).test(p);
  const error = (t: string): string => (uriTemplateRegex(t) as { error: string }).error;
  it('`*` is one segment, `**` any number of segments after it, variables match their pattern', () => {
    assert.ok(matches('/books/*', '/books/1'));
    assert.ok(!matches('/books/*', '/books/1/2'));
    assert.ok(!matches('/books/*', '/books/'));
    assert.ok(matches('/api/**', '/api/v1/users/7'));
    assert.ok(matches('/api/**', '/api/'));
    assert.ok(matches('/**/admin', '/x/y/admin'));
    assert.ok(!matches('/**/admin', '/x/y/admin2'));
    assert.ok(matches('/users/{id}/posts/{rest=**}', '/users/7/posts/a/b'));
    assert.ok(matches('/v/{p=a/*}', '/v/a/b'));
    assert.ok(!matches('/v/{p=a/*}', '/v/c/b'));
    assert.ok(matches('/a.b/*', '/a.b/x') && !matches('/a.b/*', '/aXb/x'), 'literals are literal');
  });
  it("validation refuses an operator after {**}, as Istio's CheckValidPathTemplate (Envoy could not load it)", () => {
    const ap = (paths: string[]): ConfigResource => {
      const raw = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'default' }, spec: { rules: [{ to: [{ operation: { paths } }] }] } };
      return { apiVersion: raw.apiVersion, kind: raw.kind, group: 'security.istio.io', version: 'v1', metadata: raw.metadata, spec: raw.spec, raw };
    };
    assert.deepEqual(validateResource(ap(['/{**}/admin', '/a/{*}/{**}'])).errors, []);
    assert.match(validateResource(ap(['/a/{**}/{*}'])).errors[0]!.message, /invalid or unsupported path/);
  });

  it('refuses what Envoy refuses', () => {
    assert.match(error('books/*'), /must start with \//);
    assert.match(error('/a/**/*'), /no operator may follow \*\*/);
    assert.match(error('/a/b*c'), /invalid segment/);
  });
});

/** Istio's `{*}`/`{**}` AuthorizationPolicy paths as the proxy enforces them (before: refused and failing closed). */
describe('AuthorizationPolicy path templates in the proxy', () => {
  let h: Harness;
  let app: EchoServer;

  before(async () => {
    app = await new EchoServer('app').start();
    h = await startHarness();
    const deny = [policy('deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/api/{*}/secret', '/admin/{**}'] } }] }] })];
    const allow = [policy('allow', { action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/books/{*}'], notPaths: ['/books/private'] } }] }] })];
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [
        { name: 'deny', address: address('0.0.0.0', 16200), filterChains: [{ filters: [hcm('in', {}, filters(deny))] }] },
        { name: 'allow', address: address('0.0.0.0', 16201), filterChains: [{ filters: [hcm('in', {}, filters(allow))] }] },
      ],
      routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });
  after(async () => {
    await h.close();
    await app.stop();
  });

  it('DENY: denies the paths the templates describe, query ignored, and nothing else', async () => {
    const status = async (path: string): Promise<number> => (await request(h.port('deny'), { path })).status;
    assert.equal(await status('/api/v1/secret'), 403);
    assert.equal(await status('/api/v1/secret?x=1'), 403);
    assert.equal(await status('/admin/users/7'), 403);
    assert.equal(await status('/api/v1/v2/secret'), 200);
    assert.equal(await status('/api/v1/public'), 200);
  });

  it('ALLOW: allows one segment under /books, except notPaths', async () => {
    const status = async (path: string): Promise<number> => (await request(h.port('allow'), { path })).status;
    assert.equal(await status('/books/1'), 200);
    assert.equal(await status('/books/1/2'), 403);
    assert.equal(await status('/books/private'), 403);
  });
});
