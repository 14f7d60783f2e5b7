import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

const REVIEWS = 'reviews.default.svc.cluster.local';

describe('sidecar clusters (CDS)', () => {
  const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);
  const sim = simulator(proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' }), push);

  it('has an EDS cluster per service port and one per DestinationRule subset, plus BlackHole and Passthrough', () => {
    for (const name of [`outbound|9080||${REVIEWS}`, `outbound|9080|v1|${REVIEWS}`, `outbound|9080|v2|${REVIEWS}`, `outbound|9080|v3|${REVIEWS}`]) {
      const c = sim.cluster(name)!;
      assert.equal(c.type, 'EDS', name);
      assert.deepEqual(c.edsClusterConfig, { edsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' }, serviceName: name });
    }
    assert.equal(sim.cluster('BlackHoleCluster')!.type, 'STATIC');
    assert.equal(sim.cluster('PassthroughCluster')!.type, 'ORIGINAL_DST');
  });

  it('maps the load balancer: port-level consistent hash to RING_HASH, subset RANDOM, LEAST_REQUEST, default LEAST_REQUEST (as Istio)', () => {
    assert.equal(sim.cluster(`outbound|9080||${REVIEWS}`)!.lbPolicy, 'RING_HASH');
    assert.deepEqual(sim.cluster(`outbound|9080||${REVIEWS}`)!.ringHashLbConfig, { minimumRingSize: '1024' });
    assert.equal(sim.cluster(`outbound|9080|v2|${REVIEWS}`)!.lbPolicy, 'RANDOM');
    assert.equal(sim.cluster('outbound|9080||details.default.svc.cluster.local')!.lbPolicy, 'LEAST_REQUEST');
    const lr = pushContext(
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: d, namespace: default }\nspec: { host: details, trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } } }\n',
      RICH_SERVICES,
      RICH_ENDPOINTS,
    );
    assert.equal(simulator(proxy({}), lr).cluster('outbound|9080||details.default.svc.cluster.local')!.lbPolicy, 'LEAST_REQUEST');
  });

  it('maps the connection pool to circuit breakers, timeouts, keepalive and per-connection limits', () => {
    const c = sim.cluster(`outbound|9080||${REVIEWS}`)!;
    assert.equal(c.connectTimeout, '2s');
    assert.deepEqual(c.circuitBreakers.thresholds[0], { maxConnections: 100, maxPendingRequests: 10, maxRequests: 4294967295, maxRetries: 4294967295 });
    const opts = c.typedExtensionProtocolOptions['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.deepEqual(opts.commonHttpProtocolOptions, { idleTimeout: '30s', maxRequestsPerConnection: 5 });
    assert.deepEqual(c.upstreamConnectionOptions, { tcpKeepalive: { keepaliveTime: 7200, keepaliveInterval: 75 } });
  });

  it('maps outlier detection', () => {
    const c = sim.cluster(`outbound|9080|v1|${REVIEWS}`)!;
    assert.equal(c.outlierDetection.consecutive5xx, 5);
    assert.equal(c.outlierDetection.interval, '10s');
    assert.equal(c.outlierDetection.baseEjectionTime, '30s');
    assert.equal(c.outlierDetection.maxEjectionPercent, 50);
    assert.deepEqual(c.commonLbConfig, { healthyPanicThreshold: { value: 20 } });
  });

  it('uses HTTP/2 upstream for gRPC ports', () => {
    const c = sim.cluster('outbound|9080||ratings.default.svc.cluster.local')!;
    assert.deepEqual(c.typedExtensionProtocolOptions['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicitHttpConfig, { http2ProtocolOptions: {} });
  });

  it('sets ISTIO_MUTUAL TLS through SDS secrets default/ROOTCA with the SPIFFE SAN of the workloads and Istio SNI', () => {
    const c = sim.cluster('outbound|9080||ratings.default.svc.cluster.local')!;
    const tls = c.transportSocket.typedConfig;
    assert.equal(tls['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.equal(tls.sni, 'outbound_.9080_._.ratings.default.svc.cluster.local');
    assert.equal(tls.commonTlsContext.tlsCertificateSdsSecretConfigs[0].name, 'default');
    assert.equal(tls.commonTlsContext.combinedValidationContext.validationContextSdsSecretConfig.name, 'ROOTCA');
    assert.deepEqual(tls.commonTlsContext.combinedValidationContext.defaultValidationContext.matchSubjectAltNames, [{ exact: 'spiffe://cluster.local/ns/default/sa/ratings' }]);
  });

  it('does auto mTLS without a TLS setting: transport socket matches on endpoint tlsMode', () => {
    const c = sim.cluster('outbound|9080||details.default.svc.cluster.local')!;
    assert.equal(c.transportSocket, undefined);
    assert.deepEqual(c.transportSocketMatches.map((m: { name: string; match: object }) => [m.name, m.match]), [
      ['tlsMode-istio', { tlsMode: 'istio' }],
      ['tlsMode-disabled', {}],
    ]);
    assert.equal(sim.cluster('outbound|80||httpbin.org')!.transportSocketMatches, undefined, 'no auto mTLS to external services');
  });

  it('accepts the workload identities under trust domain aliases too', () => {
    const aliased = simulator(proxy({}), pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS, { trustDomainAliases: ['old.example'] }));
    const tls = aliased.cluster('outbound|9080||ratings.default.svc.cluster.local')!.transportSocket.typedConfig;
    assert.deepEqual(tls.commonTlsContext.combinedValidationContext.defaultValidationContext.matchSubjectAltNames, [
      { exact: 'spiffe://cluster.local/ns/default/sa/ratings' },
      { exact: 'spiffe://old.example/ns/default/sa/ratings' },
    ]);
  });

  it('follows mesh settings: enableAutoMtls false and the default connect timeout', () => {
    const off = simulator(proxy({}), pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS, { enableAutoMtls: false, connectTimeout: '3s' }));
    const c = off.cluster('outbound|9080||details.default.svc.cluster.local')!;
    assert.equal(c.transportSocketMatches, undefined);
    assert.equal(c.connectTimeout, '3s');
  });

  it('applies port-level TLS origination only on that port', () => {
    const tls443 = sim.cluster('outbound|443||httpbin.org')!.transportSocket.typedConfig;
    assert.equal(tls443.sni, 'httpbin.org');
    assert.equal(sim.cluster('outbound|80||httpbin.org')!.transportSocket, undefined);
  });

  it('has inbound|PORT|| clusters for the workload ports, to the original destination (pod IP) from 127.0.0.6, as Istio 1.10+', () => {
    const c = sim.cluster('inbound|9080||')!;
    assert.equal(c.type, 'ORIGINAL_DST');
    assert.equal(c.lbPolicy, 'CLUSTER_PROVIDED');
    assert.equal(c.loadAssignment, undefined);
    assert.deepEqual(c.upstreamBindConfig, { sourceAddress: { address: '127.0.0.6', portValue: 0 } });
    const details = simulator(proxy({ ip: '10.244.0.13', labels: { app: 'details' } }), push);
    assert.ok(details.cluster('inbound|8080||'), 'keyed by the workload (target) port');
  });
});

describe('sidecar endpoints (EDS)', () => {
  const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);
  const sim = simulator(proxy({}), push);

  it('groups endpoints by locality with weights, health and tlsMode metadata', () => {
    const base = generateCla(sim, `outbound|9080||${REVIEWS}`);
    assert.deepEqual(addresses(base).sort(), ['10.244.0.11:9080', '10.244.0.21:9080', '10.244.0.31:9080']);
    const byZone = Object.fromEntries(base.endpoints.map((l: { locality: { zone?: string }; loadBalancingWeight: number; lbEndpoints: unknown[] }) => [l.locality.zone ?? '', l.lbEndpoints.length]));
    assert.deepEqual(byZone, { '': 1, z1: 1, z2: 1 });
    for (const l of base.endpoints) assert.equal(l.loadBalancingWeight, l.lbEndpoints.length);
    const unhealthy = base.endpoints.flatMap((l: { lbEndpoints: { healthStatus: string; endpoint: { address: { socketAddress: { address: string } } } }[] }) => l.lbEndpoints).find((e: { endpoint: { address: { socketAddress: { address: string } } } }) => e.endpoint.address.socketAddress.address === '10.244.0.31');
    assert.equal(unhealthy.healthStatus, 'UNHEALTHY');
    assert.equal(unhealthy.metadata.filterMetadata['envoy.transport_socket_match'].tlsMode, 'istio');
    const ratings = generateCla(sim, 'outbound|9080||ratings.default.svc.cluster.local');
    // As istiod: no transport_socket_match metadata for a plaintext endpoint (the cluster's
    // tlsMode-disabled match takes every endpoint), and no default `latest` revision.
    const md = ratings.endpoints[0].lbEndpoints[0].metadata.filterMetadata;
    assert.equal(md['envoy.transport_socket_match'], undefined);
    assert.match(md.istio.workload, /^[^;]*;default;ratings;[^;]*;Kubernetes$/);
    assert.ok(!md.istio.workload.includes(';latest;'), md.istio.workload);
  });

  it('narrows subset clusters to the subset labels', () => {
    assert.deepEqual(sim.run({ mode: 'outbound', address: '10.96.0.11', port: 9080, host: 'reviews', headers: { 'end-user': 'jason' } }).endpoints, ['10.244.0.21:9080']);
    assert.deepEqual(addresses(generateCla(sim, `outbound|9080|v3|${REVIEWS}`)), ['10.244.0.31:9080']);
  });
});

function generateCla(sim: ReturnType<typeof simulator>, name: string) {
  const res = sim.loadAssignment(name);
  assert.ok(res, `ClusterLoadAssignment ${name}`);
  return res;
}

function addresses(cla: any): string[] {
  return cla.endpoints.flatMap((l: any) => l.lbEndpoints.map((e: any) => `${e.endpoint.address.socketAddress.address}:${e.endpoint.address.socketAddress.portValue}`));
}
