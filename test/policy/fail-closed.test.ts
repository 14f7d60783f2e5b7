import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { buildRbac, rbacFilterList } from '../../src/control/generate/authz-rbac.ts';
import { address, hcm, route, routeConfig, staticCluster, tcpProxy, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';

type Obj = Record<string, unknown>;

function policy(name: string, spec: AuthorizationPolicySpec, annotations?: Record<string, string>): ConfigResource<AuthorizationPolicySpec> {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', group: 'security.istio.io', version: 'v1', metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec } as ConfigResource<AuthorizationPolicySpec>;
}

function asProto(filter: Obj): Obj {
  const { '@type': type, ...body } = filter.typedConfig as Obj;
  return { name: filter.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

/** The filters discovery generates for these policies, in its order (CUSTOM first). */
function filters(policies: ConfigResource<AuthorizationPolicySpec>[], tcp: boolean): Obj[] {
  const r = buildRbac(policies, tcp);
  return [...r.custom, ...rbacFilterList(r)].map(asProto);
}

/**
 * What reaches a proxy although validate/apply refuse it (control/config/support) is enforced
 * failing closed: never allows what the policy was meant to stop. AUDIT and dry-run never deny.
 */
describe('policies Mizzen cannot enforce fail closed in the proxy', () => {
  let h: Harness;
  let app: EchoServer;
  let tcpBackend: net.Server;

  const LISTENERS: [string, ConfigResource<AuthorizationPolicySpec>[]][] = [
    ['custom', [policy('ext-authz', { action: 'CUSTOM', provider: { name: 'my-ext-authz' }, rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] })]],
    ['audit', [policy('audit', { action: 'AUDIT', rules: [{}] })]],
    ['dry-run', [policy('deny-all', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'true' })]],
  ];

  before(async () => {
    app = await new EchoServer('app').start();
    tcpBackend = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => tcpBackend.listen(0, '127.0.0.1', r));
    h = await startHarness();
    const listeners: Obj[] = LISTENERS.map(([name, p], i) => ({ name, address: address('0.0.0.0', 16000 + i), trafficDirection: 'INBOUND', filterChains: [{ filters: [hcm('in', {}, filters(p, false))] }] }));
    const customTcp = [policy('ext-authz-tcp', { action: 'CUSTOM', provider: { name: 'my-ext-authz' }, rules: [{ from: [{ source: { ipBlocks: ['127.0.0.0/8'] } }] }] })];
    listeners.push({ name: 'custom-tcp', address: address('0.0.0.0', 16100), trafficDirection: 'INBOUND', filterChains: [{ filters: [...filters(customTcp, true), tcpProxy('tcp')] }] });
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]]), staticCluster('tcp', [['127.0.0.1', (tcpBackend.address() as net.AddressInfo).port]])],
      listeners,
      routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h.close();
    await app.stop();
    await new Promise<void>((r) => tcpBackend.close(() => r()));
  });

  it('CUSTOM naming a provider the mesh config does not define: denies what its rules select, lets the rest through', async () => {
    const denied = await request(h.port('custom'), { path: '/admin/users' });
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'RBAC: access denied');
    assert.equal((await request(h.port('custom'), { path: '/home' })).status, 200);
  });

  it('CUSTOM on a TCP chain: closes the connections it selects', async () => {
    const got = await new Promise<string>((resolve) => {
      const s = net.connect(h.port('custom-tcp'), '127.0.0.1', () => s.write('hello'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', () => undefined);
    });
    assert.equal(got, '');
  });

  it('AUDIT never denies', async () => {
    assert.equal((await request(h.port('audit'), { path: '/x' })).status, 200);
  });

  it('a dry-run DENY is evaluated as shadow rules only', async () => {
    assert.equal((await request(h.port('dry-run'), { path: '/x' })).status, 200);
  });
});
