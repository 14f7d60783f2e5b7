import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { codec, waitUntil } from './support/proxy-harness.ts';
import { TestAdsServer } from './support/test-ads-server.ts';

describe('mizzen proxy sidecar (child process)', () => {
  let ads: TestAdsServer;
  let app: EchoServer;
  let child: ChildProcess;
  let out = '';
  let err = '';
  let adminPort = 0;
  let readyPort = 0;

  before(async () => {
    app = await new EchoServer('app').start();
    ads = new TestAdsServer(codec());
    await ads.start();
    ads.set(TYPE_URL.cluster, [staticCluster('app', [['127.0.0.1', app.port]])]);
    ads.set(TYPE_URL.listener, [httpListener('web', 0, 'web', { address: { socketAddress: { address: '127.0.0.1', portValue: 0 } } })]);
    ads.set(TYPE_URL.route, [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])]);
    child = spawn(process.execPath, ['bin/mizzen.js', 'proxy', 'sidecar', '--discovery', ads.address, '--no-ca', '--admin-port', '0', '--readiness-port', '0', '--prometheus-port', 'none', '--merged-metrics-port', 'none',
      '--ip', '10.244.0.7', '--pod', 'reviews-v1-abc', '--namespace', 'bookinfo', '--labels', 'app=reviews,version=v1', '--drain-grace', '1'], {
      env: { ...process.env, SERVICE_ACCOUNT: 'bookinfo-reviews', ISTIO_META_CLUSTER_ID: 'Kubernetes', MIZZEN_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => (err += d));
    await waitUntil(() => /admin 127\.0\.0\.1:(\d+)/.test(out) || child.exitCode !== null, 'proxy to start');
    assert.equal(child.exitCode, null, `proxy exited: ${err}`);
    adminPort = Number(/admin 127\.0\.0\.1:(\d+)/.exec(out)![1]);
    readyPort = Number(/ready :(\d+)/.exec(out)![1]);
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await ads.stop();
    await app.stop();
  });

  it('sends the Istio node identity and becomes ready once config is applied', async () => {
    await ads.waitFor(() => ads.nodes.length > 0, 'node');
    const node = ads.nodes[0] as { id: string; metadata: { fields: Record<string, { stringValue?: string; structValue?: unknown }> } };
    assert.equal(node.id, 'sidecar~10.244.0.7~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local');
    assert.equal(node.metadata.fields.NAMESPACE.stringValue, 'bookinfo');
    assert.equal(node.metadata.fields.SERVICE_ACCOUNT.stringValue, 'bookinfo-reviews');
    assert.ok(node.metadata.fields.LABELS.structValue);
    let status = 0;
    for (let i = 0; i < 300 && status !== 200; i++) {
      status = (await request(readyPort, { path: '/healthz/ready' })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status, 200);
    assert.equal((await request(adminPort, { path: '/ready' })).body, 'LIVE\n');
  });

  it('routes traffic and serves admin endpoints', async () => {
    const listeners = (await request(adminPort, { path: '/listeners' })).json<{ name: string; port: number }[]>();
    const web = listeners.find((l) => l.name === 'web');
    assert.ok(web?.port);
    const r = await request(web.port, { path: '/hello', headers: { host: 'reviews' } });
    assert.equal(r.status, 200);
    assert.equal(r.json<EchoReply>().server, 'app');
    const dump = (await request(adminPort, { path: '/config_dump' })).json<{ configs: Record<string, unknown>[] }>();
    const types = dump.configs.map((c) => c['@type']);
    assert.ok(types.includes('type.googleapis.com/envoy.admin.v3.ListenersConfigDump'));
    const lds = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump') as { dynamicListeners: { name: string; activeState: { listener: Record<string, unknown> } }[] };
    assert.equal(lds.dynamicListeners[0].name, 'web');
    assert.equal(lds.dynamicListeners[0].activeState.listener['@type'], TYPE_URL.listener);
    const clusters = (await request(adminPort, { path: '/clusters' })).body;
    assert.match(clusters, new RegExp(`app::127\\.0\\.0\\.1:${app.port}::health_flags::healthy`));
    assert.match((await request(adminPort, { path: '/stats' })).body, /cluster\.app\.upstream_rq_2xx: 1/);
    assert.match((await request(adminPort, { path: '/stats/prometheus' })).body, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="app"\} 1/);
    assert.equal((await request(adminPort, { method: 'POST', path: '/logging?level=debug' })).status, 200);
  });

  it("POST /drain_listeners closes the listeners (new connections refused), as Envoy's admin; the proxy stays up", async () => {
    const web = (await request(adminPort, { path: '/listeners' })).json<{ name: string; port: number }[]>().find((l) => l.name === 'web')!;
    assert.equal((await request(web.port, { path: '/hello', headers: { host: 'reviews' } })).status, 200);
    assert.equal((await request(adminPort, { path: '/drain_listeners' })).status, 405, 'POST only');
    assert.equal((await request(adminPort, { method: 'POST', path: '/drain_listeners' })).status, 200);
    await assert.rejects(request(web.port, { path: '/hello', headers: { host: 'reviews' } }), /ECONNREFUSED/);
    await assert.rejects(request(readyPort, { path: '/healthz/ready' }), /ECONNREFUSED/, "15021 is one of Envoy's listeners: the readiness probe fails");
    assert.equal((await request(adminPort, { path: '/ready' })).status, 200, 'admin still answers');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});

describe('mizzen proxy usage errors', () => {
  it('reports a missing --discovery without a stack trace', async () => {
    const c = spawn(process.execPath, ['bin/mizzen.js', 'proxy', 'sidecar', '--no-ca'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISCOVERY_ADDRESS: '' } });
    let e = '';
    c.stderr.on('data', (d: Buffer) => (e += d));
    const code = await new Promise<number | null>((r) => c.once('exit', r));
    assert.equal(code, 1);
    assert.match(e, /--discovery HOST:PORT is required/);
    assert.doesNotMatch(e, /\n\s+at /);
  });
});
