import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { buildRbac, rbacFilterList } from '../../src/control/generate/authz-rbac.ts';
import { meshAccessLog } from '../../src/control/generate/http-connection-manager.ts';
import { address, hcm, route, routeConfig, staticCluster, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, waitUntil, type Harness } from '../proxy/support/proxy-harness.ts';

type Obj = Record<string, unknown>;
const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

/** AUDIT as discovery translates it (istiod: an RBAC filter with action LOG), in the proxy's object form. */
function auditFilters(spec: AuthorizationPolicySpec): Obj[] {
  const p = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'audit', namespace: 'default' }, spec } as ConfigResource<AuthorizationPolicySpec>;
  return rbacFilterList(buildRbac([p], false)).map(asProto);
}

/** Generators write proto3 JSON; discovery's encoder converts it to protobufjs objects the same way. */
function asProto(f: Obj): Obj {
  const { '@type': type, ...body } = f.typedConfig as Obj;
  return { name: f.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

describe('AuthorizationPolicy AUDIT: audited requests marked in the access log', () => {
  let h: Harness;
  let app: EchoServer;
  let dir: string;
  const read = (f: string): string => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-audit-'));
    app = await new EchoServer('app').start();
    h = await startHarness();
    const filters = auditFilters({ action: 'AUDIT', rules: [{ to: [{ operation: { paths: ['/audited/*'] } }] }] });
    assert.equal((filters[0]!.typedConfig as Obj & { rules: Obj }).rules.action, 'LOG', 'AUDIT is RBAC LOG');
    const accessLog = [
      // what discovery generates for meshConfig accessLogFile + accessLogFormat
      ...meshAccessLog({ accessLogFile: join(dir, 'text.log'), accessLogFormat: '%REQ(:PATH)% %RESPONSE_CODE% %DYNAMIC_METADATA(envoy.common:access_log_hint)%\n' }).map(asProto),
      { name: 'envoy.access_loggers.file', typedConfig: { '@type': FILE_LOG, path: join(dir, 'json.log'), logFormat: { jsonFormat: { fields: { path: { stringValue: '%REQ(:PATH)%' }, audit: { stringValue: '%DYNAMIC_METADATA(envoy.common:access_log_hint)%' }, common: { stringValue: '%DYNAMIC_METADATA(envoy.common)%' } } } } } },
    ];
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [{ name: 'l', address: address('0.0.0.0', 8080), filterChains: [{ filters: [hcm('r', { accessLog }, filters)] }] }],
      routes: [routeConfig('r', [vhost('v', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h.close();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets every request through and sets envoy.common access_log_hint on the audited ones only', async () => {
    assert.equal((await request(h.port('l'), { path: '/audited/1' })).status, 200);
    assert.equal((await request(h.port('l'), { path: '/other' })).status, 200);
    await waitUntil(() => read('text.log').split('\n').length >= 3 && read('json.log').split('\n').length >= 3, 'access log lines');
    assert.deepEqual(read('text.log').trim().split('\n'), ['/audited/1 200 true', '/other 200 -']);
    const json = read('json.log').trim().split('\n').map((l) => JSON.parse(l) as Obj);
    assert.deepEqual(json[0], { path: '/audited/1', audit: true, common: { access_log_hint: true } }, 'typed values in JSON logs, as Envoy');
    assert.deepEqual(json[1], { path: '/other', audit: null, common: null });
  });
});
