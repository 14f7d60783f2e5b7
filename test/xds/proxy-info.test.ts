import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonToStruct, parseProxyInfo, proxyKey } from '../../src/control/xds/proxy-info.ts';

describe('parseProxyInfo', () => {
  it('parses an Istio sidecar node ID and its metadata', () => {
    const r = parseProxyInfo({
      id: 'sidecar~10.244.0.7~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local',
      metadata: jsonToStruct({
        NAMESPACE: 'bookinfo',
        LABELS: { app: 'reviews', version: 'v1' },
        SERVICE_ACCOUNT: 'bookinfo-reviews',
        CLUSTER_ID: 'c1',
        INSTANCE_IPS: '10.244.0.7,fd00::7',
        WORKLOAD_NAME: 'reviews-v1',
        ISTIO_VERSION: '1.24.0',
      }),
    });
    assert.ok(r.ok);
    const p = r.proxy;
    assert.equal(p.type, 'sidecar');
    assert.equal(p.podName, 'reviews-v1-abc');
    assert.equal(p.namespace, 'bookinfo');
    assert.equal(p.dnsDomain, 'bookinfo.svc.cluster.local');
    assert.deepEqual(p.ipAddresses, ['10.244.0.7', 'fd00::7']);
    assert.deepEqual(p.labels, { app: 'reviews', version: 'v1' });
    assert.equal(p.serviceAccount, 'bookinfo-reviews');
    assert.equal(p.clusterId, 'c1');
    assert.equal(p.workloadName, 'reviews-v1');
    assert.equal(p.version, '1.24.0');
    assert.equal(p.generator, undefined);
    assert.equal(proxyKey(p), 'reviews-v1-abc.bookinfo');
  });

  it('recognises router, ztunnel and waypoint IDs', () => {
    for (const t of ['router', 'ztunnel', 'waypoint'] as const) {
      const r = parseProxyInfo({ id: `${t}~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local` });
      assert.ok(r.ok);
      assert.equal(r.proxy.type, t);
      assert.equal(r.proxy.namespace, 'istio-system');
      assert.equal(r.proxy.clusterId, 'Kubernetes');
    }
  });

  it('marks proxyless gRPC clients by GENERATOR metadata, as Istio', () => {
    const r = parseProxyInfo({ id: 'sidecar~127.0.0.1~client.default~default.svc.cluster.local', metadata: jsonToStruct({ GENERATOR: 'grpc' }), userAgentName: 'gRPC Node Pure JS' });
    assert.ok(r.ok);
    assert.equal(r.proxy.generator, 'grpc');
  });

  it('accepts a plain node ID from a generic xDS client, namespace from metadata', () => {
    const r = parseProxyInfo({ id: 'my-client', metadata: jsonToStruct({ NAMESPACE: 'apps' }) });
    assert.ok(r.ok);
    assert.equal(r.proxy.type, 'sidecar');
    assert.equal(r.proxy.namespace, 'apps');
    assert.equal(r.proxy.podName, 'my-client');
  });

  it('refuses a missing ID, an unknown type or a malformed ID with a clear message', () => {
    const none = parseProxyInfo({});
    assert.ok(!none.ok && /node\.id/.test(none.message));
    const bad = parseProxyInfo({ id: 'gateway~1.2.3.4~a.b~b.svc.cluster.local' });
    assert.ok(!bad.ok && /unknown proxy type "gateway"/.test(bad.message));
    const short = parseProxyInfo({ id: 'sidecar~1.2.3.4' });
    assert.ok(!short.ok && /TYPE~IP~POD\.NAMESPACE/.test(short.message));
  });
});
