import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason } from './netns-test-support.ts';
import { injectedNamespace, meshConfigMap, SAMPLES, TaskMesh } from './task-mesh.ts';

/**
 * Istio's "External Authorization" task (security/authorization/authz-custom) followed with
 * `mizzen`: httpbin and sleep in namespace foo, the extauthz sample (HTTP on 8000, gRPC on 9000,
 * no sidecar) next to them, the two extension providers in MeshConfig, then the CUSTOM policy on
 * /headers with the gRPC provider and with the HTTP provider. The sample images run as Mizzen's
 * own programs (src/runtime/sample-images.ts: examples/httpbin, examples/extauthz).
 */
const skip = (await rootSkipReason()) || (!existsSync(join(SAMPLES, 'extauthz/ext-authz.yaml')) ? `Istio's samples are missing (${SAMPLES})` : false);

const MESH = `extensionProviders:
- name: "sample-ext-authz-grpc"
  envoyExtAuthzGrpc:
    service: "ext-authz.foo.svc.cluster.local"
    port: "9000"
- name: "sample-ext-authz-http"
  envoyExtAuthzHttp:
    service: "ext-authz.foo.svc.cluster.local"
    port: "8000"
    includeRequestHeadersInCheck: ["x-ext-authz"]
`;

const policy = (provider: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
spec:
  selector:
    matchLabels:
      app: httpbin
  action: CUSTOM
  provider:
    # The provider name must match the extension provider defined in the mesh config.
    name: ${provider}
  rules:
  # The rules specify when to trigger the external authorizer.
  - to:
    - operation:
        paths: ["/headers"]
`;

const DENIED = 'denied by ext_authz for not found header `x-ext-authz: allow` in the request';

describe("Istio's External Authorization task through mizzen up", { skip, timeout: 600_000 }, () => {
  let mesh: TaskMesh;
  const curl = (path: string, header?: string, extra: string[] = []): Promise<string> =>
    mesh.exec('foo', 'deploy/sleep', ['curl', `http://httpbin.foo:8000${path}`, ...(header ? ['-H', header] : []), '-s', '-m', '10', ...extra]).then((r) => r.stdout);

  before(async () => {
    mesh = await TaskMesh.up('ext-authz-task', { 'foo.yaml': injectedNamespace('foo') });
  });

  after(async () => {
    await mesh?.down();
  });

  it('before you begin: httpbin and sleep in foo, sleep reaches httpbin', async () => {
    await mesh.apply(join(SAMPLES, 'httpbin/httpbin.yaml'), 'foo');
    await mesh.apply(join(SAMPLES, 'sleep/sleep.yaml'), 'foo');
    await mesh.ready('foo', 'httpbin');
    await mesh.ready('foo', 'sleep');
    await mesh.settles('sleep → httpbin /ip', async () => (await curl('/ip', undefined, ['-o', '/dev/null', '-w', '%{http_code}\\n'])).trim() === '200');
  });

  it('deploys the external authorizer; its log says both servers started', async () => {
    await mesh.apply(join(SAMPLES, 'extauthz/ext-authz.yaml'), 'foo');
    await mesh.ready('foo', 'ext-authz');
    const log = await mesh.logs('foo', 'deploy/ext-authz', 'ext-authz');
    assert.match(log, /Starting HTTP server at \[::\]:8000/);
    assert.match(log, /Starting gRPC server at \[::\]:9000/);
  });

  it('defines the external authorizers in the mesh config and enables the gRPC one for /headers', async () => {
    await mesh.apply(meshConfigMap(MESH));
    await mesh.apply(policy('sample-ext-authz-grpc'), 'foo');
    await mesh.settles('x-ext-authz: deny is denied by the authorizer', async () => (await curl('/headers', 'x-ext-authz: deny')) === DENIED);
  });

  it('x-ext-authz: allow reaches httpbin, which sees X-Ext-Authz-Check-Result: allowed', async () => {
    const body = JSON.parse(await curl('/headers', 'x-ext-authz: allow')) as { headers: Record<string, string[]> };
    assert.deepEqual(body.headers['X-Ext-Authz'], ['allow']);
    assert.deepEqual(body.headers['X-Ext-Authz-Check-Result'], ['allowed']);
  });

  it('/ip is not selected by the policy: 200 without asking the authorizer', async () => {
    assert.equal((await curl('/ip', 'x-ext-authz: deny', ['-o', '/dev/null', '-w', '%{http_code}\\n'])).trim(), '200');
  });

  it("the authorizer's log shows the denied and the allowed check (gRPCv3)", async () => {
    const log = await mesh.logs('foo', 'deploy/ext-authz', 'ext-authz');
    assert.match(log, /\[gRPCv3\]\[denied\]: httpbin\.foo:8000\/headers, attributes: .*"principal":"spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep"/);
    assert.match(log, /\[gRPCv3\]\[allowed\]: httpbin\.foo:8000\/headers, attributes: /);
    assert.doesNotMatch(log, /httpbin\.foo:8000\/ip/);
  });

  it('the same policy with the HTTP provider (sample-ext-authz-http)', async () => {
    await mesh.apply(policy('sample-ext-authz-http'), 'foo');
    await mesh.settles('the HTTP authorizer denies', async () => (await curl('/headers', 'x-ext-authz: deny')) === DENIED && (await mesh.logs('foo', 'deploy/ext-authz', 'ext-authz')).includes('[HTTP][denied]'));
    const body = JSON.parse(await curl('/headers', 'x-ext-authz: allow')) as { headers: Record<string, string[]> };
    assert.deepEqual(body.headers['X-Ext-Authz'], ['allow']);
    assert.match(await mesh.logs('foo', 'deploy/ext-authz', 'ext-authz'), /\[HTTP\]\[allowed\]: GET httpbin\.foo:8000\/headers/);
  });

  it('a provider the mesh config does not define fails closed: the selected path is denied', async () => {
    await mesh.apply(policy('no-such-provider'), 'foo');
    await mesh.settles('RBAC: access denied on /headers', async () => (await curl('/headers', 'x-ext-authz: allow')) === 'RBAC: access denied');
    assert.equal((await curl('/ip', undefined, ['-o', '/dev/null', '-w', '%{http_code}\\n'])).trim(), '200');
  });

  it('clean up: deleting the policy restores access', async () => {
    await mesh.delete(policy('no-such-provider'), 'foo');
    await mesh.settles('/headers answers again', async () => (JSON.parse(await curl('/headers')) as { headers?: unknown }).headers !== undefined);
  });
});
