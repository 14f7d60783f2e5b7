import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { encodeProblems } from '../support/envoy-encode.ts';
import { generateAll, proxy, pushContext, simulator } from '../support/generate-fixture.ts';

type Json = Record<string, any>;

const services = [{ name: 'web', vip: '10.96.7.7', ports: [{ port: 80, name: 'http' }] }];
const endpoints = [{ service: 'web', address: '10.244.7.7', targetPort: 8080, labels: { app: 'web' } }];
const webProxy = proxy({ ip: '10.244.7.7', labels: { app: 'web' } });
const permissive = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: istio-system }\nspec: { mtls: { mode: PERMISSIVE } }\n';

function resources() {
  return generateAll(webProxy, pushContext(permissive, services, endpoints));
}

describe('inbound passthrough (Istio)', () => {
  it('binds InboundPassthroughCluster upstream sockets to 127.0.0.6, an ORIGINAL_DST cluster as Istio generates it', () => {
    const c = resources().clusters.find((r) => r.name === 'InboundPassthroughCluster')?.resource as Json | undefined;
    assert.ok(c, 'InboundPassthroughCluster generated');
    assert.equal(c.type, 'ORIGINAL_DST');
    assert.equal(c.lbPolicy, 'CLUSTER_PROVIDED');
    assert.deepEqual(c.upstreamBindConfig, { sourceAddress: { address: '127.0.0.6', portValue: 0 } });
  });

  it('keeps virtualInbound without use_original_dst, restoring the destination with the original_dst listener filter', () => {
    const l = resources().listeners.find((r) => r.name === 'virtualInbound')?.resource as Json | undefined;
    assert.ok(l);
    assert.equal(l.useOriginalDst, undefined);
    assert.equal(l.trafficDirection, 'INBOUND');
    assert.equal(l.listenerFilters[0].name, 'envoy.filters.listener.original_dst');
  });

  it('sends a pod port no Service declares to InboundPassthroughCluster, in plaintext and mTLS', () => {
    const sim = simulator(webProxy, pushContext(permissive, services, endpoints));
    for (const tls of [false, true]) {
      const r = sim.run({ mode: 'inbound', address: '10.244.7.7', port: 9999, tls, protocol: 'tcp' });
      assert.equal(r.listener, 'virtualInbound');
      assert.equal(r.filterChain, 'virtualInbound');
      assert.equal(r.transportSocket !== undefined, tls, 'mesh mTLS is terminated, plaintext relayed');
      assert.equal(r.cluster, 'InboundPassthroughCluster');
    }
    // A declared port reaches its own inbound cluster, at the pod address (Istio 1.10+), from 127.0.0.6.
    const declared = sim.run({ mode: 'inbound', address: '10.244.7.7', port: 8080, tls: true, host: 'web' });
    assert.equal(declared.cluster, 'inbound|8080||');
    assert.deepEqual(declared.endpoints, ['10.244.7.7:8080']);
    const c = resources().clusters.find((r) => r.name === 'inbound|8080||')?.resource as Json;
    assert.deepEqual([c.type, c.upstreamBindConfig], ['ORIGINAL_DST', { sourceAddress: { address: '127.0.0.6', portValue: 0 } }]);
  });

  it('handles HTTP to an undeclared port at L7 (virtualInbound-catchall-http), and passes TLS that is not the mesh\'s through untouched', () => {
    const sim = simulator(webProxy, pushContext(permissive, services, endpoints));
    const http = sim.run({ mode: 'inbound', address: '10.244.7.7', port: 9999, tls: false, host: 'web:9999', path: '/x' });
    assert.deepEqual([http.filterChain, http.cluster], ['virtualInbound-catchall-http', 'InboundPassthroughCluster']);
    assert.ok(http.httpFilters?.includes('envoy.filters.http.router'));
    const appTls = sim.run({ mode: 'inbound', address: '10.244.7.7', port: 9999, tls: true, alpn: ['h2', 'http/1.1'], protocol: 'tcp' });
    assert.deepEqual([appTls.filterChain, appTls.cluster, appTls.transportSocket], ['virtualInbound', 'InboundPassthroughCluster', undefined]);
  });

  it('drops connections whose destination is 15006 itself (virtualInbound-blackhole), instead of passing them through to itself', () => {
    const sim = simulator(webProxy, pushContext(permissive, services, endpoints));
    const r = sim.run({ mode: 'inbound', address: '10.244.7.7', port: 15006, tls: false, protocol: 'tcp' });
    assert.equal(r.filterChain, 'virtualInbound-blackhole');
    assert.equal(r.cluster, 'BlackHoleCluster');
  });

  it('drops connections whose destination is 15001 itself (virtualOutbound-blackhole)', () => {
    const sim = simulator(webProxy, pushContext(permissive, services, endpoints));
    const r = sim.run({ mode: 'outbound', address: '10.244.7.7', port: 15001, protocol: 'tcp' });
    assert.equal(r.filterChain, 'virtualOutbound-blackhole');
    assert.equal(r.cluster, 'BlackHoleCluster');
    assert.equal(sim.run({ mode: 'outbound', address: '192.0.2.1', port: 5555, protocol: 'tcp' }).cluster, 'PassthroughCluster');
  });

  it('encodes with Envoy\'s protobuf types', () => {
    const res = resources();
    const root = loadEnvoyRoot();
    assert.deepEqual([...encodeProblems(root, TYPE_URL.cluster, res.clusters), ...encodeProblems(root, TYPE_URL.listener, res.listeners)], []);
  });
});
