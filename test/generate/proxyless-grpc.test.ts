import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';

const services = [{ name: 'echo', vip: '10.96.5.5', ports: [{ port: 7070, protocol: 'GRPC' as const }] }];
const endpoints = [
  { service: 'echo', address: '10.244.5.1', labels: { app: 'echo', version: 'v1' }, locality: { region: 'r1', zone: 'z1' } },
  { service: 'echo', address: '10.244.5.2', labels: { app: 'echo', version: 'v2' }, locality: { region: 'r1', zone: 'z2' }, weight: 3 },
];
const CONFIG = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec:
  host: echo
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
  - name: to-v2
    match: [{ headers: { x-version: { exact: v2 } } }]
    route: [{ destination: { host: echo, subset: v2 } }]
  - name: split
    route: [{ destination: { host: echo, subset: v1 }, weight: 80 }, { destination: { host: echo, subset: v2 }, weight: 20 }]
`;
const TARGET = 'echo.default.svc.cluster.local:7070';
const client = proxy({ grpc: true, ip: '10.244.9.9' });

describe('proxyless gRPC resources', () => {
  const push = pushContext(CONFIG, services, endpoints);

  it('names the listener HOST:PORT with an ApiListener HttpConnectionManager using RDS, the fault filter and the router', () => {
    const sim = simulator(client, push, [TARGET]);
    const l = sim.listener(TARGET)!;
    const hcm = l.apiListener.apiListener;
    assert.equal(hcm['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    assert.deepEqual(hcm.rds, { routeConfigName: TARGET, configSource: { ads: {}, resourceApiVersion: 'V3' } });
    assert.deepEqual(hcm.httpFilters.map((f: { name: string }) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.router']);
    assert.equal(l.address, undefined);
  });

  it('routes by header with exact_match and splits 80/20 with weights summing to total_weight 100', () => {
    const sim = simulator(client, push, [TARGET]);
    const v2 = sim.run({ mode: 'grpc', target: TARGET, path: '/echo.Echo/Say', headers: { 'x-version': 'v2' } });
    assert.equal(v2.cluster, 'outbound|7070|v2|echo.default.svc.cluster.local');
    assert.deepEqual(v2.route!.match.headers, [{ name: 'x-version', exactMatch: 'v2' }]);
    const split = sim.run({ mode: 'grpc', target: TARGET, path: '/echo.Echo/Say' });
    assert.deepEqual(split.weightedClusters, [
      { name: 'outbound|7070|v1|echo.default.svc.cluster.local', weight: 80 },
      { name: 'outbound|7070|v2|echo.default.svc.cluster.local', weight: 20 },
    ]);
    assert.equal(split.route!.route.weightedClusters.totalWeight, 100);
    assert.equal(split.route!.route.retryPolicy, undefined, 'no Envoy-only retry defaults');
  });

  it('answers short targets too, with the requested name as listener, route config and domain', () => {
    const sim = simulator(client, push, ['echo:7070']);
    assert.equal(sim.run({ mode: 'grpc', target: 'echo:7070', path: '/x', headers: { 'x-version': 'v2' } }).cluster, 'outbound|7070|v2|echo.default.svc.cluster.local');
  });

  it('gives EDS clusters over ADS and endpoints with locality and weights, without Envoy-only metadata', () => {
    const sim = simulator(client, push, [TARGET]);
    const c = sim.cluster('outbound|7070|v2|echo.default.svc.cluster.local')!;
    assert.deepEqual(c, {
      name: 'outbound|7070|v2|echo.default.svc.cluster.local',
      type: 'EDS',
      edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: 'outbound|7070|v2|echo.default.svc.cluster.local' },
      lbPolicy: 'ROUND_ROBIN',
    });
    const cla = sim.loadAssignment('outbound|7070|v2|echo.default.svc.cluster.local')!;
    assert.deepEqual(cla.endpoints, [
      {
        locality: { region: 'r1', zone: 'z2' },
        lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.244.5.2', portValue: 7070 } } }, healthStatus: 'HEALTHY', loadBalancingWeight: 3 }],
        loadBalancingWeight: 3,
      },
    ]);
  });

  it('returns nothing for targets that name no service', () => {
    const sim = simulator(client, push, ['nope.default.svc.cluster.local:7070']);
    assert.equal(sim.listener('nope.default.svc.cluster.local:7070'), undefined);
  });

  it('answers a wildcard listener subscription with every visible service port', () => {
    const sim = simulator(client, push);
    assert.ok(sim.listener(TARGET));
    assert.ok(sim.routeConfig(TARGET));
    assert.ok(sim.cluster('outbound|7070||echo.default.svc.cluster.local'));
  });
});
