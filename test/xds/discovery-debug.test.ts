import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { Discovery } from '../../src/control/discovery.ts';
import { main } from '../../src/cli/main.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createLogFactory } from '../../src/lib/log.ts';
import { AdsTestClient, sidecarNode } from './support/ads-test-client.ts';
import { envoyRoot, waitFor } from './support/ads-harness.ts';

function get(addr: string, path: string): Promise<{ status: number; body: string }> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'mizzen', ...args], { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

describe('Discovery debug endpoints and proxy-status/proxy-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-dbg-'));
  let d: Discovery;
  let addrs: Awaited<ReturnType<Discovery['start']>>;
  const clients: AdsTestClient[] = [];

  before(async () => {
    writeFileSync(
      join(dir, 'se.yaml'),
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`,
    );
    // a mesh HTTPRoute in force (translated to a VirtualService at each push)
    writeFileSync(
      join(dir, 'web.yaml'),
      `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 8080}]
  selector: {app: web}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
  rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-via, value: route}]}}], backendRefs: [{name: web, port: 8080}]}]
`,
    );
    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: default}\nspec: {hosts: 7}\n');
    d = new Discovery({
      configPaths: [dir],
      trustDomain: 'cluster.local',
      grpcAddr: '127.0.0.1:0',
      secureGrpcAddr: '127.0.0.1:0',
      httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10,
      debounceMaxMs: 1000,
      clock: systemClock,
      logs: createLogFactory({ levels: 'silent' }),
      rescanIntervalMs: 0,
    });
    addrs = await d.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is ready and shows config errors in /debug/configz', async () => {
    assert.equal((await get(addrs.http, '/ready')).status, 200);
    const configz = JSON.parse((await get(addrs.http, '/debug/configz')).body) as { resources: { ref: string }[]; errors: { file?: string; message: string }[] };
    assert.ok(configz.resources.some((r) => r.ref === 'ServiceEntry default/echo'));
    assert.ok(configz.errors.some((e) => e.file?.endsWith('bad.yaml')), JSON.stringify(configz.errors));
  });

  it('reports its own time to the last response written for a push (mizzen_xds_push_last_write_seconds)', async () => {
    const c = new AdsTestClient(envoyRoot(), addrs.grpc, 'sotw');
    clients.push(c);
    const eds = 'outbound|80||echo.example.com';
    c.send({ node: sidecarNode('push-1', 'default'), typeUrl: TYPE_URL.endpoint, resourceNames: [eds] });
    const first = await c.next();
    c.send({ typeUrl: TYPE_URL.endpoint, resourceNames: [eds], versionInfo: first.versionInfo, responseNonce: first.nonce });
    const before = (await get(addrs.http, '/metrics')).body;
    assert.doesNotMatch(before, /mizzen_xds_push_last_write_seconds\{type="eds"\}/, 'a response to a request is no push');
    const t0 = Date.now();
    writeFileSync(join(dir, 'se.yaml'), readFileSync(join(dir, 'se.yaml'), 'utf8').replace('127.0.0.1', '127.0.0.2'));
    const pushed = await c.next();
    assert.notEqual(pushed.versionInfo, first.versionInfo);
    const m = /mizzen_xds_push_last_write_seconds\{type="eds"\} ([0-9.e+-]+)/.exec((await get(addrs.http, '/metrics')).body);
    assert.ok(m, 'the gauge is set by the push');
    const seconds = Number(m[1]);
    assert.ok(seconds > 0 && seconds <= (Date.now() - t0) / 1000 + 0.5, `${seconds} s`);
    c.send({ typeUrl: TYPE_URL.endpoint, resourceNames: [eds], versionInfo: pushed.versionInfo, responseNonce: pushed.nonce });
    // The other tests count the connected proxies: leave none behind.
    c.close();
    await waitFor(() => d.ads.connections.find('push-1.default').length === 0);
  });

  it('reports sync state and a NACK in /debug/syncz, metrics and proxy-status', async () => {
    const c = new AdsTestClient(envoyRoot(), addrs.grpc, 'sotw');
    clients.push(c);
    c.send({ node: sidecarNode('web-1', 'default'), typeUrl: TYPE_URL.cluster });
    const r = await c.next();
    c.send({ typeUrl: TYPE_URL.cluster, versionInfo: r.versionInfo, responseNonce: r.nonce });
    c.send({ typeUrl: TYPE_URL.listener });
    const l = await c.next();
    c.send({ typeUrl: TYPE_URL.listener, responseNonce: l.nonce, errorDetail: { code: 3, message: 'listener virtualOutbound: unsupported field' } });
    await waitFor(() => d.ads.connections.find('web-1.default')[0]?.watched.get(TYPE_URL.listener)?.lastNack !== undefined);

    const syncz = JSON.parse((await get(addrs.http, '/debug/syncz')).body) as { name: string; status: Record<string, string>; types: { typeUrl: string; lastNack?: { message: string } }[] }[];
    const row = syncz.find((s) => s.name === 'web-1.default')!;
    assert.equal(row.status.cds, 'SYNCED');
    assert.equal(row.status.lds, 'STALE');
    assert.equal(row.status.rds, 'NOT SENT');
    assert.equal(row.types.find((t) => t.typeUrl === TYPE_URL.listener)!.lastNack!.message, 'listener virtualOutbound: unsupported field');
    const metrics = (await get(addrs.http, '/metrics')).body;
    assert.match(metrics, /pilot_total_xds_rejects\{type="lds"\} 1/);
    assert.match(metrics, /pilot_xds\{version="1.24-mizzen",type="sidecar"\} 1/);

    const ps = await cli(['proxy-status', '--discovery-address', addrs.http]);
    assert.equal(ps.code, 0, ps.err);
    assert.match(ps.out, /^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+ISTIOD\s+VERSION/);
    assert.match(ps.out, /web-1\.default\s+Kubernetes\s+SYNCED\s+STALE \(NACK\)\s+NOT SENT\s+NOT SENT/);
    const psJson = await cli(['proxy-status', '-o', 'json', '--discovery-address', addrs.http]);
    assert.equal((JSON.parse(psJson.out) as unknown[]).length, 1);
  });

  it('dumps what the proxy was sent, Envoy-shaped, for proxy-config', async () => {
    const dump = JSON.parse((await get(addrs.http, '/debug/config_dump?proxyID=web-1.default')).body) as { configs: { '@type': string; dynamicActiveClusters?: { cluster: { name: string } }[] }[] };
    const clusters = dump.configs.find((c) => c['@type'].endsWith('ClustersConfigDump'))!.dynamicActiveClusters!;
    assert.ok(clusters.length > 0);
    const pc = await cli(['proxy-config', 'clusters', 'web-1.default', '--discovery-address', addrs.http]);
    assert.equal(pc.code, 0, pc.err);
    assert.match(pc.out, /^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+DESTINATION RULE/);
    const pcJson = await cli(['proxy-config', 'clusters', 'web-1', '-n', 'default', '-o', 'json', '--discovery-address', addrs.http]);
    assert.deepEqual((JSON.parse(pcJson.out) as { name: string }[]).map((c) => c.name), clusters.map((c) => c.cluster.name));
    const missing = await cli(['proxy-config', 'listeners', 'nobody.default', '--discovery-address', addrs.http]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nobody\.default is not connected/);
  });

  it('what-if (mizzen diff): only the resources the change touches, against the config in force', async () => {
    const post = (body: unknown): Promise<{ proxies: { proxy: string; changes: { type: string; name: string; change: string; fields: string[] }[] }[]; errors: string[] }> =>
      fetch(`http://${addrs.http}/debug/whatif`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json() as never);
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo.example.com]
  http: [{timeout: 3s, route: [{destination: {host: echo.example.com}}]}]
`;
    const r = await post({ files: [{ file: 'vs.yaml', text: vs }] });
    assert.deepEqual(r.errors, []);
    const web = r.proxies.find((p) => p.proxy === 'web-1.default');
    // the HTTPRoute's route config (8080) is the same on both sides: both are built as a push builds them
    assert.deepEqual(web?.changes.map((c) => `${c.type} ${c.name} ${c.change}`), ['routes 80 modified']);
    assert.ok(web?.changes[0].fields.some((f) => f.includes('timeout')), web?.changes[0].fields.join('\n'));
    const none = await post({ files: [{ file: 'web.yaml', text: readFileSync(join(dir, 'web.yaml'), 'utf8') }] });
    assert.deepEqual(none.proxies.flatMap((p) => p.changes), [], 'resubmitting what is in force changes nothing');
  });

  it('mizzen discovery refuses bad input with a clear message', async () => {
    const none = await cli(['discovery']);
    assert.equal(none.code, 1);
    assert.match(none.err, /needs at least one --config DIR/);
    const badAddr = await cli(['discovery', '--config', dir, '--grpc-addr', '127.0.0.1:0', '--http-addr', 'nope:xx']);
    assert.equal(badAddr.code, 1);
    assert.match(badAddr.err, /invalid address "nope:xx"/);
    assert.doesNotMatch(badAddr.err, /at .*\.ts:\d+/, 'no stack trace');
  });

  it('says clearly when discovery cannot be reached', async () => {
    const r = await cli(['proxy-status', '--discovery-address', '127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach discovery/);
  });
});
