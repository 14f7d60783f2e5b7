import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

const reviewsProxy = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-v1' });
const listeners = (mesh: Record<string, unknown> = {}): Json[] => generateAll(reviewsProxy, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS, mesh)).listeners.map((l) => l.resource as Json);

type Json = Record<string, any>;

function hcms(listeners: Json[]): Json[] {
  const out: Json[] = [];
  for (const l of listeners) for (const c of l.filterChains ?? []) for (const f of c.filters ?? []) if (f.name === 'envoy.filters.network.http_connection_manager') out.push(f.typedConfig);
  return out;
}

describe('meshConfig access log in generated HTTP connection managers', () => {
  it('adds Istio\'s file access logger to every HCM when accessLogFile is set', () => {
    const all = hcms(listeners({ accessLogFile: '/dev/stdout' }));
    assert.ok(all.length > 1);
    for (const h of all) {
      assert.equal(h.accessLog.length, 1);
      assert.equal(h.accessLog[0].typedConfig.path, '/dev/stdout');
      assert.match(h.accessLog[0].typedConfig.logFormat.textFormatSource.inlineString, /^\[%START_TIME%\] "%REQ\(:METHOD\)% /);
    }
  });

  it('uses the JSON fields for accessLogEncoding JSON and nothing without a file', () => {
    const json = hcms(listeners({ accessLogFile: '/var/log/a.log', accessLogEncoding: 'JSON' }));
    assert.equal(json[0]!.accessLog[0].typedConfig.logFormat.jsonFormat.response_code, '%RESPONSE_CODE%');
    const none = hcms(listeners());
    for (const h of none) assert.equal(h.accessLog, undefined);
  });
});
