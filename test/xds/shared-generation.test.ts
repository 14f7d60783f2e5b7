import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { sharedGeneration } from '../../src/control/push/shared-generation.ts';
import type { RegistrySnapshot } from '../../src/control/registry/service.ts';
import { jsonToStruct, parseProxyInfo, type ProxyInfo } from '../../src/control/xds/proxy-info.ts';

function proxy(ip: string, ns = 'default', labels: Record<string, string> = {}): ProxyInfo {
  const r = parseProxyInfo({ id: `sidecar~${ip}~p-${ip}.${ns}~${ns}.svc.cluster.local`, metadata: jsonToStruct({ LABELS: labels }) });
  assert.ok(r.ok);
  return r.proxy;
}

// A fixed registry with one workload at 10.0.0.5 (the builder is tested elsewhere).
const registry: RegistrySnapshot = {
  services: [],
  workloads: [{ kind: 'Pod', name: 'w', namespace: 'default', address: '10.0.0.5', labels: {}, ports: {}, tlsMode: 'istio' }],
  servicesByHost: () => [],
  endpoints: () => [],
};

describe('sharedGeneration', () => {
  it('generates once for proxies the generators cannot tell apart', () => {
    let calls = 0;
    const gen = sharedGeneration(() => {
      calls++;
      return [{ name: 'x', resource: {} }];
    }, registry);
    const a = gen(proxy('10.9.0.1'), TYPE_URL.cluster, undefined);
    const b = gen(proxy('10.9.0.2'), TYPE_URL.cluster, undefined);
    assert.equal(a, b);
    assert.equal(calls, 1);
    gen(proxy('10.9.0.3'), TYPE_URL.route, ['80', '9080']);
    gen(proxy('10.9.0.4'), TYPE_URL.route, ['9080', '80']);
    assert.equal(calls, 2);
  });

  it('keeps proxies apart by namespace, labels, workload IP and requested names', () => {
    let calls = 0;
    const gen = sharedGeneration(() => {
      calls++;
      return [];
    }, registry);
    gen(proxy('10.9.0.1'), TYPE_URL.cluster, undefined);
    gen(proxy('10.9.0.1', 'other'), TYPE_URL.cluster, undefined);
    gen(proxy('10.9.0.1', 'default', { app: 'a' }), TYPE_URL.cluster, undefined);
    gen(proxy('10.0.0.5'), TYPE_URL.cluster, undefined);
    gen(proxy('10.9.0.1'), TYPE_URL.endpoint, ['a']);
    gen(proxy('10.9.0.1'), TYPE_URL.endpoint, ['b']);
    assert.equal(calls, 6);
    // Endpoints do not depend on the proxy's IP at all.
    gen(proxy('10.0.0.5'), TYPE_URL.endpoint, ['a']);
    assert.equal(calls, 6);
  });
});
