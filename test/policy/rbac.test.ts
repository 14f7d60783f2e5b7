import assert from 'node:assert/strict';
import * as https from 'node:https';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { buildRbac, rbacFilterList } from '../../src/control/generate/authz-rbac.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { address, DOWNSTREAM_TLS, hcm, routeConfig, route, staticCluster, tcpProxy, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { issue, makeCa, type TestCa } from '../proxy/support/test-pki.ts';

type Obj = Record<string, unknown>;

function policy(name: string, spec: AuthorizationPolicySpec): ConfigResource<AuthorizationPolicySpec> {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', group: 'security.istio.io', version: 'v1', metadata: { name, namespace: 'default' }, spec } as ConfigResource<AuthorizationPolicySpec>;
}

/** The policies of the HTTP tests, translated by discovery's generator (as istiod would). */
const HTTP_POLICIES = [
  policy('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] }),
  policy('allow', {
    action: 'ALLOW',
    rules: [
      { to: [{ operation: { methods: ['GET'], paths: ['/public*'] } }] },
      { from: [{ source: { principals: ['cluster.local/ns/default/sa/client'] } }], to: [{ operation: { paths: ['/secure*'] } }] },
      { from: [{ source: { ipBlocks: ['127.0.0.1'] } }], to: [{ operation: { paths: ['/ip*'] } }] },
      { from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }], to: [{ operation: { paths: ['/tenip*'] } }] },
      { to: [{ operation: { paths: ['/hdr*'] } }], when: [{ key: 'request.headers[x-token]', values: ['abc'] }] },
      { from: [{ source: { namespaces: ['default'] } }], to: [{ operation: { paths: ['/ns*'] } }] },
      { to: [{ operation: { paths: ['/admin/ok'] } }] },
      { to: [{ operation: { ports: ['15099'] } }] },
    ],
  }),
];

/** Generators write proto3 JSON; discovery's encoder converts it to protobufjs objects the same way. */
function asProto(filter: Obj): Obj {
  const { '@type': type, ...body } = filter.typedConfig as Obj;
  return { name: filter.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

function rbacHttpFilters(policies: ConfigResource<AuthorizationPolicySpec>[]): Obj[] {
  const r = buildRbac(policies, false);
  return [...r.custom, ...rbacFilterList(r)].map(asProto);
}

function rbacTcpFilters(policies: ConfigResource<AuthorizationPolicySpec>[]): Obj[] {
  const r = buildRbac(policies, true);
  return [...r.custom, ...rbacFilterList(r)].map(asProto);
}

function tlsSocket(): Obj {
  const sds = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': DOWNSTREAM_TLS,
      requireClientCertificate: { value: true },
      commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds('default')], combinedValidationContext: { defaultValidationContext: {}, validationContextSdsSecretConfig: sds('ROOTCA') } },
    },
  };
}

describe('RBAC enforcement in mizzen proxy (AuthorizationPolicy as discovery translates it)', () => {
  let h: Harness;
  let app: EchoServer;
  let tcpBackend: net.Server;
  let ca: TestCa;
  let clientCert: { certPem: string; keyPem: string };
  let otherCert: { certPem: string; keyPem: string };

  before(async () => {
    ca = await makeCa('mesh-root');
    const serverCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/server');
    clientCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/client');
    otherCert = await issue(ca, 'spiffe://cluster.local/ns/other/sa/intruder');
    const secrets = new MapSecretProvider();
    secrets.set('default', { kind: 'certificate', certChain: serverCert.certPem, privateKey: serverCert.keyPem });
    secrets.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
    app = await new EchoServer('app').start();
    tcpBackend = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => tcpBackend.listen(0, '127.0.0.1', r));
    h = await startHarness({ secrets });
    const inbound = hcm('inbound', {}, rbacHttpFilters(HTTP_POLICIES));
    const tcpPort = (tcpBackend.address() as net.AddressInfo).port;
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]]), staticCluster('tcp', [['127.0.0.1', tcpPort]])],
      listeners: [
        { name: 'http', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND', filterChains: [{ filters: [inbound] }] },
        { name: 'mtls', address: address('0.0.0.0', 15007), trafficDirection: 'INBOUND', filterChains: [{ transportSocket: tlsSocket(), filters: [inbound] }] },
        {
          name: 'tcp-deny', address: address('0.0.0.0', 15008), trafficDirection: 'INBOUND',
          filterChains: [{ filters: [...rbacTcpFilters([policy('tcp', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }] }] })]), tcpProxy('tcp')] }],
        },
        {
          name: 'tcp-allow', address: address('0.0.0.0', 15009), trafficDirection: 'INBOUND',
          filterChains: [{ filters: [...rbacTcpFilters([policy('tcp', { rules: [{ from: [{ source: { ipBlocks: ['127.0.0.0/8'] } }] }] })]), tcpProxy('tcp')] }],
        },
      ],
      routes: [routeConfig('inbound', [vhost('inbound', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h.close();
    await app.stop();
    await new Promise<void>((r) => tcpBackend.close(() => r()));
  });

  const plain = (path: string, opts: { method?: string; headers?: Record<string, string> } = {}) => request(h.port('http'), { path, ...opts });

  function viaMtls(path: string, cert: { certPem: string; keyPem: string }): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: h.port('mtls'), path, ca: ca.certPem, cert: cert.certPem, key: cert.keyPem, rejectUnauthorized: false, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('allows by method and path and answers 403 "RBAC: access denied" otherwise', async () => {
    assert.equal((await plain('/public/a')).status, 200);
    const post = await plain('/public/a', { method: 'POST' });
    assert.equal(post.status, 403);
    assert.equal(post.body, 'RBAC: access denied');
    assert.equal((await plain('/elsewhere')).status, 403);
  });

  it('runs DENY before ALLOW', async () => {
    const r = await plain('/admin/ok');
    assert.equal(r.status, 403);
    assert.equal(r.body, 'RBAC: access denied');
  });

  it('matches ipBlocks against the downstream address', async () => {
    assert.equal((await plain('/ip/x')).status, 200);
    assert.equal((await plain('/tenip/x')).status, 403);
  });

  it('matches request headers from when conditions', async () => {
    assert.equal((await plain('/hdr', { headers: { 'x-token': 'abc' } })).status, 200);
    assert.equal((await plain('/hdr', { headers: { 'x-token': 'nope' } })).status, 403);
    assert.equal((await plain('/hdr')).status, 403);
  });

  it('matches destination ports', async () => {
    // the rule for port 15099 does not match this listener's port
    assert.equal((await plain('/port-only')).status, 403);
  });

  it('needs an mTLS peer for principals and namespaces', async () => {
    assert.equal((await plain('/secure')).status, 403);
    assert.equal((await plain('/ns')).status, 403);
    assert.equal((await viaMtls('/secure', clientCert)).status, 200);
    assert.equal((await viaMtls('/ns', clientCert)).status, 200);
    assert.equal((await viaMtls('/secure', otherCert)).status, 403);
    assert.equal((await viaMtls('/ns', otherCert)).status, 403);
  });

  it('closes TCP connections the network RBAC filter denies', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(h.port('tcp-deny'), '127.0.0.1', () => s.write('hello'));
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('close', () => resolve(got === ''));
      s.on('error', () => undefined);
    });
    assert.equal(closed, true);
  });

  it('relays TCP connections the network RBAC filter allows', async () => {
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = net.connect(h.port('tcp-allow'), '127.0.0.1', () => s.write('hello'));
      s.on('data', (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.on('error', reject);
      s.on('close', () => resolve('(closed)'));
    });
    assert.equal(echoed, 'hello');
  });

  it('NACKs RBAC features it cannot honour, naming the field', async () => {
    const before = h.ads.acks.length;
    const bad = hcm('inbound', {}, [{ name: 'envoy.filters.http.rbac', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: { policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], condition: { constExpr: { boolValue: true } } } } } } }]);
    h.ads.set(TYPE_URL.listener, [{ name: 'bad', address: address('0.0.0.0', 15010), filterChains: [{ filters: [bad] }] }]);
    await h.ads.waitFor(() => h.ads.acks.length > before && h.ads.last(TYPE_URL.listener)?.error !== undefined, 'listener NACK');
    assert.match(h.ads.last(TYPE_URL.listener)!.error!, /policies\[p\]\.condition: CEL conditions are not supported/);
    // the previous listeners keep serving
    assert.equal((await plain('/public/a')).status, 200);
  });
});
