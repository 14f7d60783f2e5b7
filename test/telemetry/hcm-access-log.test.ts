import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { meshAccessLog } from '../../src/control/generate/http-connection-manager.ts';
import { codec } from '../proxy/support/proxy-harness.ts';
import { address, hcm, route, routeConfig, staticCluster, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { startHarness, waitUntil, type Harness } from '../proxy/support/proxy-harness.ts';

const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

describe('HCM access_log (envoy.access_loggers.file)', () => {
  let h: Harness;
  let app: EchoServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-alog-'));
    app = await new EchoServer('app').start();
    h = await startHarness();
    const accessLog = [
      { name: 'envoy.access_loggers.file', typedConfig: { '@type': FILE_LOG, path: join(dir, 'text.log'), logFormat: { textFormatSource: { inlineString: '%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %ROUTE_NAME%\n' } } } },
      { name: 'envoy.access_loggers.file', typedConfig: { '@type': FILE_LOG, path: join(dir, 'json.log'), logFormat: { jsonFormat: { fields: { code: { stringValue: '%RESPONSE_CODE%' }, authority: { stringValue: '%REQ(:AUTHORITY)%' } } } } } },
      { name: 'envoy.access_loggers.file', typedConfig: { '@type': FILE_LOG, path: join(dir, 'istio.log') } },
      // what discovery generates for meshConfig.accessLogFile + accessLogEncoding: JSON
      ...meshAccessLog({ accessLogFile: join(dir, 'mesh.json.log'), accessLogEncoding: 'JSON' }).map((e) => {
        const { '@type': type, ...body } = e.typedConfig as Record<string, unknown>;
        return { name: e.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type('envoy.extensions.access_loggers.file.v3.FileAccessLog'), body).object } };
      }),
    ];
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [{ name: 'l', address: address('0.0.0.0', 8080), filterChains: [{ filters: [hcm('r', { accessLog })] }] }],
      routes: [routeConfig('r', [vhost('v', ['*'], [route({ prefix: '/a' }, { cluster: 'app' }, { name: 'route-a' })])])],
    });
  });

  after(async () => {
    await h.close();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');

  it('writes one line per request in the configured text and JSON formats, Istio default otherwise', async () => {
    await request(h.port('l'), { path: '/a/1', host: '127.0.0.1', headers: { host: 'svc.example' } });
    await request(h.port('l'), { path: '/nope' });
    await waitUntil(() => read('text.log').split('\n').length >= 3 && read('json.log').split('\n').length >= 3 && read('istio.log').split('\n').length >= 3, 'access log files');
    assert.deepEqual(read('text.log').trim().split('\n'), ['GET /a/1 200 - route-a', 'GET /nope 404 NR -']);
    assert.deepEqual(JSON.parse(read('json.log').split('\n')[0]!), { code: 200, authority: 'svc.example' });
    assert.match(read('istio.log').split('\n')[0]!, /^\[[^\]]+\] "GET \/a\/1 HTTP\/1\.1" 200 - via_upstream /);
    await waitUntil(() => read('mesh.json.log').split('\n').length >= 3, 'mesh JSON log');
    const j = JSON.parse(read('mesh.json.log').split('\n')[0]!) as Record<string, unknown>;
    assert.equal(j.path, '/a/1');
    assert.equal(j.response_code, 200);
    assert.equal(j.route_name, 'route-a');
  });

  it('NACKs access loggers it does not have', async () => {
    const before = h.ads.acks.length;
    h.ads.set(TYPE_URL.listener, [{ name: 'bad', address: address('0.0.0.0', 8081), filterChains: [{ filters: [hcm('r', { accessLog: [{ name: 'envoy.access_loggers.http_grpc', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', logFormat: { formatters: [{ name: 'x', typedConfig: { '@type': FILE_LOG } }] } } }] })] }] }]);
    await h.ads.waitFor(() => h.ads.acks.length > before && h.ads.last(TYPE_URL.listener)?.error !== undefined, 'listener NACK');
    assert.match(h.ads.last(TYPE_URL.listener)!.error!, /accessLog\[0\]\.typedConfig\.logFormat\.formatters/);
  });
});
