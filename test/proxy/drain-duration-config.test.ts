import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { proxyConfig, type ProxyFlags } from '../../src/cli/proxy-config.ts';
import { podProxyConfig } from '../../src/runtime/pod-proxy-config.ts';

const FLAGS: ProxyFlags = { discovery: '127.0.0.1:15010', adminPort: '15000', readinessPort: '15021', prometheusPort: '15090', ca: false, xdsProtocol: 'delta', drainGrace: '5' };

function meshConfigMap(mesh: string): ConfigResource {
  const raw = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh } };
  return { apiVersion: 'v1', kind: 'ConfigMap', group: '', version: 'v1', metadata: raw.metadata, spec: {}, raw };
}

describe("the drain period (Istio's ProxyConfig drainDuration)", () => {
  it('defaults to 45 s, reads PROXY_CONFIG as istio-agent does, and the flag wins', () => {
    assert.equal(proxyConfig('sidecar', FLAGS, {}).drainDurationMs, 45_000);
    assert.equal(proxyConfig('sidecar', FLAGS, { PROXY_CONFIG: '{"drainDuration":"7s","concurrency":2}' }).drainDurationMs, 7_000);
    assert.equal(proxyConfig('sidecar', { ...FLAGS, drainDuration: '500ms' }, { PROXY_CONFIG: '{"drainDuration":"7s"}' }).drainDurationMs, 500);
    assert.throws(() => proxyConfig('sidecar', { ...FLAGS, drainDuration: 'soon' }, {}), /drain duration must be a duration/);
    assert.throws(() => proxyConfig('sidecar', FLAGS, { PROXY_CONFIG: 'drainDuration: 7s' }), /PROXY_CONFIG must be JSON/);
  });

  it("mizzen up gives each pod MeshConfig defaultConfig overridden by its proxy.istio.io/config annotation", () => {
    const cms = [meshConfigMap('defaultConfig:\n  drainDuration: 3s\n  concurrency: 2\n')];
    assert.deepEqual(podProxyConfig(cms, {}), { drainDuration: '3s', concurrency: 2 });
    assert.deepEqual(podProxyConfig(cms, { 'proxy.istio.io/config': 'drainDuration: 10s' }), { drainDuration: '10s', concurrency: 2 });
    assert.deepEqual(podProxyConfig(cms, { 'proxy.istio.io/config': '{"terminationDrainDuration": "5s"}' }), { drainDuration: '3s', concurrency: 2, terminationDrainDuration: '5s' });
    assert.deepEqual(podProxyConfig([], {}), {});
  });
});
