import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { address, hcm, route, routeConfig, staticCluster, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { startHarness, waitUntil, type Harness } from '../proxy/support/proxy-harness.ts';

const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const CEL = 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter';
const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';

/** A protobuf Struct from plain JSON (what the TypedStruct `value` carries). */
function struct(v: unknown): unknown {
  if (Array.isArray(v)) return { listValue: { values: v.map(struct) } };
  if (v && typeof v === 'object') return { structValue: { fields: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, struct(x)])) } };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return { numberValue: v };
  return { stringValue: String(v) };
}

function statsFilter(config: Record<string, unknown>): Record<string, unknown> {
  return { name: 'istio.stats', typedConfig: { '@type': TYPED_STRUCT, typeUrl: 'type.googleapis.com/stats.PluginConfig', value: (struct(config) as { structValue: unknown }).structValue } };
}

describe('Telemetry in the proxy: metric overrides (istio.stats config) and access log filters (CEL)', () => {
  let h: Harness;
  let app: EchoServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-telemetry-'));
    app = await new EchoServer('app').start();
    h = await startHarness();
    const accessLog = [{
      name: 'envoy.access_loggers.file',
      typedConfig: { '@type': FILE_LOG, path: join(dir, 'errors.log'), logFormat: { textFormatSource: { inlineString: '%RESPONSE_CODE% %REQ(:PATH)%\n' } } },
      filter: { extensionFilter: { name: 'envoy.access_loggers.extension_filters.cel', typedConfig: { '@type': CEL, expression: "response.code >= 400 || request.headers['x-debug'] == 'on'" } } },
    }];
    const stats = statsFilter({ metrics: [
      { name: 'requests_total', dimensions: { request_method: 'request.method' }, tags_to_remove: ['request_protocol'] },
      { name: 'request_bytes', drop: true },
    ] });
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [
        { name: 'with', address: address('0.0.0.0', 8080), trafficDirection: 'OUTBOUND', filterChains: [{ filters: [hcm('r', { accessLog }, [stats])] }] },
        { name: 'without', address: address('0.0.0.0', 8081), trafficDirection: 'OUTBOUND', filterChains: [{ filters: [hcm('r')] }] },
      ],
      routes: [routeConfig('r', [vhost('v', ['*'], [route({ prefix: '/ok' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h.close();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs only what the CEL filter admits', async () => {
    await request(h.port('with'), { path: '/ok/1' });
    await request(h.port('with'), { path: '/missing' });
    await request(h.port('with'), { path: '/ok/debug', headers: { 'x-debug': 'on' } });
    const read = () => (existsSync(join(dir, 'errors.log')) ? readFileSync(join(dir, 'errors.log'), 'utf8') : '');
    await waitUntil(() => read().split('\n').length >= 3, 'two log lines');
    assert.deepEqual(read().trim().split('\n'), ['404 /missing', '200 /ok/debug']);
  });

  it('applies tag overrides and drops per metric; an HCM without istio.stats records no HTTP metrics', async () => {
    await request(h.port('without'), { path: '/ok/x' });
    const text = await h.proxy.statsPrometheus();
    const requests = text.split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    assert.ok(requests.length > 0);
    for (const l of requests) {
      assert.match(l, /request_method="GET"/);
      assert.doesNotMatch(l, /request_protocol=/);
    }
    assert.equal(requests.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0), 3, 'the three requests through the listener with istio.stats only');
    assert.doesNotMatch(text, /^istio_request_bytes_bucket/m, 'request_bytes dropped');
    assert.match(text, /^istio_response_bytes_bucket\{.*request_protocol="http"/m, 'other metrics keep Istio\'s labels');
  });
});
