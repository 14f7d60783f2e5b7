import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as http2 from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { buildRbac, rbacFilterList } from '../../src/control/generate/authz-rbac.ts';
import { resolveExtAuthzProviders } from '../../src/control/generate/ext-authz-providers.ts';
import { address, hcm, route, routeConfig, staticCluster, tcpProxy, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer, type EchoReply } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, waitUntil, type Harness } from '../proxy/support/proxy-harness.ts';
import { freePort } from '../runtime/netns-test-support.ts';

type Obj = Record<string, unknown>;

const REPO = new URL('../../', import.meta.url).pathname;
const HOST = 'ext-authz.foo.svc.cluster.local';

function policy(name: string, spec: AuthorizationPolicySpec, annotations?: Record<string, string>): ConfigResource<AuthorizationPolicySpec> {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', group: 'security.istio.io', version: 'v1', metadata: { name, namespace: 'foo', ...(annotations ? { annotations } : {}) }, spec } as ConfigResource<AuthorizationPolicySpec>;
}

function asProto(filter: Obj): Obj {
  const { '@type': type, ...body } = filter.typedConfig as Obj;
  return { name: filter.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

/**
 * AuthorizationPolicy CUSTOM end to end in one proxy: the filters discovery generates for the
 * extension providers of Istio's "External Authorization" task (envoyExtAuthzGrpc on 9000,
 * envoyExtAuthzHttp on 8000 with includeRequestHeadersInCheck) against the extauthz sample
 * server (examples/extauthz, @grpc/grpc-js for gRPC) — only the paths the CUSTOM rules select
 * are checked; allow/deny follow the sample's `x-ext-authz: allow` rule.
 */
describe('AuthorizationPolicy CUSTOM: ext_authz to the extauthz sample (HTTP and gRPC)', () => {
  let h: Harness;
  let app: EchoServer;
  let authz: ChildProcess;
  let authzLog = '';
  let httpPort: number;
  let grpcPort: number;
  let tcpBackend: net.Server;

  const PROVIDERS = (failOpenPort: number): Obj[] => [
    { name: 'sample-ext-authz-grpc', envoyExtAuthzGrpc: { service: HOST, port: '9000' } },
    { name: 'sample-ext-authz-http', envoyExtAuthzHttp: { service: HOST, port: '8000', includeRequestHeadersInCheck: ['x-ext-authz'], headersToDownstreamOnAllow: ['x-ext-authz-check-result'], headersToUpstreamOnAllow: ['x-ext-authz-check-result'], includeRequestBodyInCheck: { maxRequestBytes: 1024, allowPartialMessage: true } } },
    { name: 'down-closed', envoyExtAuthzGrpc: { service: HOST, port: failOpenPort, timeout: '0.5s' } },
    { name: 'down-open', envoyExtAuthzGrpc: { service: HOST, port: failOpenPort, timeout: '0.5s', failOpen: true } },
  ];

  const custom = (provider: string): ConfigResource<AuthorizationPolicySpec>[] => [policy('ext-authz', { action: 'CUSTOM', provider: { name: provider }, rules: [{ to: [{ operation: { paths: ['/headers'] } }] }] })];

  before(async () => {
    httpPort = await freePort();
    grpcPort = await freePort();
    const deadPort = await freePort();
    authz = spawn(process.execPath, [join(REPO, 'examples/extauthz/ext-authz.ts'), '--http', String(httpPort), '--grpc', String(grpcPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    authz.stdout!.on('data', (d: Buffer) => (authzLog += d.toString()));
    authz.stderr!.on('data', (d: Buffer) => (authzLog += d.toString()));
    await waitUntil(() => authzLog.includes('Starting gRPC server') && authzLog.includes('Starting HTTP server'), 'the ext-authz sample to start', 20_000);
    app = await new EchoServer('httpbin').start();
    tcpBackend = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => tcpBackend.listen(0, '127.0.0.1', r));
    const providers = resolveExtAuthzProviders(PROVIDERS(9999), (host) => (host === HOST ? [{ hostname: HOST, namespace: 'foo' }] : []));
    const filters = (p: ConfigResource<AuthorizationPolicySpec>[], tcp: boolean): Obj[] => {
      const r = buildRbac(p, tcp, undefined, providers);
      return [...r.custom, ...rbacFilterList(r)].map(asProto);
    };
    const listeners: Obj[] = ['sample-ext-authz-grpc', 'sample-ext-authz-http', 'down-closed', 'down-open', 'unknown'].map((name, i) => ({
      name, address: address('0.0.0.0', 17000 + i), trafficDirection: 'INBOUND', filterChains: [{ filters: [hcm('in', {}, filters(custom(name), false))] }],
    }));
    const tcpPolicy = [policy('ext-authz-tcp', { action: 'CUSTOM', provider: { name: 'sample-ext-authz-grpc' }, rules: [{ to: [{ operation: { ports: ['15010'] } }] }, { from: [{ source: { ipBlocks: ['127.0.0.0/8'] } }] }] })];
    listeners.push({ name: 'tcp', address: address('0.0.0.0', 17100), trafficDirection: 'INBOUND', filterChains: [{ filters: [...filters(tcpPolicy, true), tcpProxy('tcp')] }] });
    h = await startHarness();
    await h.push({
      clusters: [
        staticCluster('app', [['127.0.0.1', app.port]]),
        staticCluster('tcp', [['127.0.0.1', (tcpBackend.address() as net.AddressInfo).port]]),
        staticCluster(`outbound|8000||${HOST}`, [['127.0.0.1', httpPort]]),
        staticCluster(`outbound|9000||${HOST}`, [['127.0.0.1', grpcPort]], { http2ProtocolOptions: {} }),
        staticCluster(`outbound|9999||${HOST}`, [['127.0.0.1', deadPort]], { http2ProtocolOptions: {} }),
      ],
      listeners,
      routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h?.close();
    await app?.stop();
    if (tcpBackend) await new Promise<void>((r) => tcpBackend.close(() => r()));
    authz?.kill('SIGTERM');
  });

  for (const provider of ['sample-ext-authz-grpc', 'sample-ext-authz-http']) {
    it(`${provider}: x-ext-authz: deny → 403 with the sample's body, nothing reaches the app`, async () => {
      const before = app.count;
      const r = await request(h.port(provider), { path: '/headers', headers: { 'x-ext-authz': 'deny' } });
      assert.equal(r.status, 403);
      assert.equal(r.body, 'denied by ext_authz for not found header `x-ext-authz: allow` in the request');
      assert.equal(r.headers['x-ext-authz-check-result'], 'denied');
      assert.equal(app.count, before);
    });

    it(`${provider}: x-ext-authz: allow → the app gets the request with x-ext-authz-check-result: allowed`, async () => {
      const r = await request(h.port(provider), { path: '/headers', headers: { 'x-ext-authz': 'allow' } });
      assert.equal(r.status, 200);
      const echo = JSON.parse(r.body) as EchoReply;
      assert.equal(echo.headers['x-ext-authz-check-result'], 'allowed');
      assert.equal(echo.url, '/headers');
    });

    it(`${provider}: paths the CUSTOM rules do not select are not checked`, async () => {
      const before = authzLog.length;
      const r = await request(h.port(provider), { path: '/ip', headers: { 'x-ext-authz': 'deny' } });
      assert.equal(r.status, 200);
      assert.equal(authzLog.slice(before), '', 'the authorizer was not asked');
    });
  }

  it('gRPC: the CheckRequest carries the HTTP attributes (host, path, headers) the sample logs', async () => {
    await request(h.port('sample-ext-authz-grpc'), { path: '/headers?x=1', headers: { 'x-ext-authz': 'allow', host: 'httpbin.foo:8000' } });
    const line = authzLog.split('\n').reverse().find((l) => l.includes('[gRPCv3][allowed]')) ?? '';
    assert.match(line, /\[gRPCv3\]\[allowed\]: httpbin\.foo:8000\/headers\?x=1, attributes: /);
    const attrs = JSON.parse(line.slice(line.indexOf('attributes: ') + 'attributes: '.length)) as { request: { http: { method: string; headers: Record<string, string>; protocol: string } }; source: { address: { socket_address: { address: string } } } };
    assert.equal(attrs.request.http.method, 'GET');
    assert.equal(attrs.request.http.headers[':path'], '/headers?x=1');
    assert.equal(attrs.request.http.headers['x-ext-authz'], 'allow');
    assert.equal(attrs.request.http.protocol, 'HTTP/1.1');
    assert.equal(attrs.source.address.socket_address.address, '127.0.0.1');
  });

  it('HTTP: only the allowed headers (plus Host, Authorization) reach the authorizer; the allowed result header comes back on the response', async () => {
    const r = await request(h.port('sample-ext-authz-http'), { path: '/headers', headers: { 'x-ext-authz': 'allow', 'x-secret': 'no', authorization: 'Bearer t' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-ext-authz-check-result'], 'allowed', 'headersToDownstreamOnAllow');
    const line = authzLog.split('\n').reverse().find((l) => l.includes('[HTTP][allowed]')) ?? '';
    assert.match(line, /"x-ext-authz":\["allow"\]/);
    assert.match(line, /"authorization":\["Bearer t"\]/);
    assert.doesNotMatch(line, /x-secret/);
  });

  it('HTTP: includeRequestBodyInCheck sends the buffered body (chunked too), and the app still gets all of it', async () => {
    const body = 'a'.repeat(3000);
    const r = await request(h.port('sample-ext-authz-http'), { method: 'POST', path: '/headers', headers: { 'x-ext-authz': 'allow' }, body, chunked: true });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as EchoReply).body, body);
    const line = authzLog.split('\n').reverse().find((l) => l.includes('[HTTP][allowed]: POST')) ?? '';
    assert.match(line, new RegExp(`body: \\[${'a'.repeat(1024)}\\]`), 'max_request_bytes 1024, partial allowed');
  });

  it('HTTP/2 downstream requests are checked the same way', async () => {
    const session = http2.connect(`http://127.0.0.1:${h.port('sample-ext-authz-grpc')}`);
    const ask = (value: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const s = session.request({ ':path': '/headers', 'x-ext-authz': value });
        let body = '';
        let status = 0;
        s.on('response', (hd) => (status = Number(hd[':status'])));
        s.on('data', (d: Buffer) => (body += d.toString()));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
        s.end();
      });
    try {
      assert.equal((await ask('deny')).status, 403);
      const ok = await ask('allow');
      assert.equal(ok.status, 200);
      assert.equal((JSON.parse(ok.body) as EchoReply).headers['x-ext-authz-check-result'], 'allowed');
    } finally {
      session.close();
    }
  });

  it('HTTP/2 downstream: includeRequestBodyInCheck sends the body too, and the app still gets all of it', async () => {
    const session = http2.connect(`http://127.0.0.1:${h.port('sample-ext-authz-http')}`);
    const body = 'h'.repeat(100_000);
    try {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = session.request({ ':method': 'POST', ':path': '/headers', 'x-ext-authz': 'allow' });
        let text = '';
        let status = 0;
        s.on('response', (hd) => (status = Number(hd[':status'])));
        s.on('data', (d: Buffer) => (text += d.toString()));
        s.on('end', () => resolve({ status, body: text }));
        s.on('error', reject);
        s.end(body);
      });
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body) as EchoReply).body, body);
      const line = authzLog.split('\n').reverse().find((l) => l.includes('[HTTP][allowed]: POST')) ?? '';
      assert.match(line, new RegExp(`body: \\[${'h'.repeat(1024)}\\]`), 'max_request_bytes 1024, partial allowed');
    } finally {
      session.close();
    }
  });

  it('an authorizer that cannot be reached: 403 (statusOnError default), or through with failOpen', async () => {
    const closed = await request(h.port('down-closed'), { path: '/headers' });
    assert.equal(closed.status, 403);
    assert.equal((await request(h.port('down-closed'), { path: '/ip' })).status, 200, 'unselected paths are not affected');
    assert.equal((await request(h.port('down-open'), { path: '/headers' })).status, 200);
  });

  it('a provider the mesh config does not define: the selected requests are denied (fail closed)', async () => {
    const r = await request(h.port('unknown'), { path: '/headers', headers: { 'x-ext-authz': 'allow' } });
    assert.equal(r.status, 403);
    assert.equal(r.body, 'RBAC: access denied');
    assert.equal((await request(h.port('unknown'), { path: '/ip' })).status, 200);
  });

  it('TCP chain with a gRPC provider: the connection is checked (sample: no header → source principal /sa/a, so denied) and closed', async () => {
    const before = authzLog.length;
    const got = await new Promise<string>((resolve) => {
      const s = net.connect(h.port('tcp'), '127.0.0.1', () => s.write('hello'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', () => resolve(data));
    });
    assert.equal(got, '');
    await waitUntil(() => authzLog.slice(before).includes('[gRPCv3][denied]'), 'the TCP check in the authorizer log');
  });
});
