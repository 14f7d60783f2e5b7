import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProxyInfo } from '../../src/control/xds/proxy-info.ts';
import { generateAll, proxy, pushContext, type EndpointSpec } from '../support/generate-fixture.ts';

// Istio's multi-network model: gateway Services labelled with their network, split-horizon EDS,
// and the east-west gateway's AUTO_PASSTHROUGH server (samples/multicluster/expose-services.yaml).
const HOST = 'helloworld.sample.svc.cluster.local';
const CLUSTER = `outbound|5000||${HOST}`;
const SNI = `outbound_.5000_._.${HOST}`;
const SERVICES = [
  { name: 'helloworld', namespace: 'sample', ports: [{ port: 5000, protocol: 'HTTP' as const }] },
  { name: 'remote-only', namespace: 'sample', ports: [{ port: 8080, protocol: 'HTTP' as const }] },
];
const ep = (address: string, network: string | undefined, extra: Partial<EndpointSpec> = {}): EndpointSpec => ({
  service: 'helloworld', namespace: 'sample', address, labels: { app: 'helloworld' }, ...(network ? { network } : {}), ...extra,
});
const ENDPOINTS: EndpointSpec[] = [
  ep('10.244.0.11', 'network1'),
  ep('10.245.0.21', 'network2'),
  ep('10.245.0.22', 'network2', { weight: 3 }),
  ep('10.245.0.23', 'network2', { tlsMode: 'disabled' }),
  ep('10.245.0.24', 'network2', { healthy: false }),
  ep('10.246.0.31', 'network3'),
  ep('10.244.0.40', undefined),
  { service: 'remote-only', namespace: 'sample', address: '10.245.0.50', network: 'network2' },
];
const gatewayService = (network: string, ips: string[], port?: number): string => `apiVersion: v1
kind: Service
metadata:
  name: istio-eastwestgateway-${network}
  namespace: istio-system
  labels: { istio: eastwestgateway, topology.istio.io/network: ${network}${port ? `, networking.istio.io/gatewayPort: "${port}"` : ''} }
spec:
  type: LoadBalancer
  selector: { istio: eastwestgateway }
  ports: [{ name: tls, port: 15443, targetPort: 15443 }]
status:
  loadBalancer: { ingress: [${ips.map((ip) => `{ ip: ${ip} }`).join(', ')}] }
---
`;
const CROSS_NETWORK_GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: cross-network-gateway, namespace: istio-system }
spec:
  selector: { istio: eastwestgateway }
  servers:
  - port: { number: 15443, name: tls, protocol: TLS }
    tls: { mode: AUTO_PASSTHROUGH }
    hosts: ["*.local"]
---
`;

const on = (network: string, p: ProxyInfo = proxy({ namespace: 'sample', labels: { app: 'sleep' } }), meta: Record<string, unknown> = {}): ProxyInfo => ({ ...p, metadata: { ...p.metadata, NETWORK: network, ...meta } });

interface Lb { endpoint: { address: { socketAddress: { address: string; portValue: number } } }; loadBalancingWeight: number; metadata?: { filterMetadata: Record<string, Record<string, unknown>> } }
/** `address:port` → weight, as the proxy gets them for a cluster. */
function endpointsOf(p: ProxyInfo, yaml: string, cluster = CLUSTER): Map<string, number> {
  const { endpoints } = generateAll(p, pushContext(yaml, SERVICES, ENDPOINTS));
  const cla = endpoints.find((r) => r.name === cluster)?.resource as { endpoints: { lbEndpoints: Lb[]; loadBalancingWeight: number }[] } | undefined;
  assert.ok(cla, `no ClusterLoadAssignment ${cluster}`);
  const out = new Map<string, number>();
  for (const g of cla.endpoints) {
    assert.equal(g.loadBalancingWeight, g.lbEndpoints.reduce((s, e) => s + e.loadBalancingWeight, 0), 'locality weight is the sum of its endpoints');
    for (const e of g.lbEndpoints) out.set(`${e.endpoint.address.socketAddress.address}:${e.endpoint.address.socketAddress.portValue}`, e.loadBalancingWeight);
  }
  return out;
}

describe('multi-network: split-horizon EDS (istiod EndpointsByNetworkFilter)', () => {
  it('without network gateways every endpoint is sent directly, whatever its network', () => {
    const seen = endpointsOf(on('network1'), '');
    assert.equal(seen.size, 7);
    assert.ok(seen.has('10.245.0.21:5000') && seen.has('10.246.0.31:5000'));
  });

  it("a proxy on network1 gets its own network's endpoints, and network2's gateway in place of network2's mTLS endpoints, weighted by what it stands for", () => {
    const seen = endpointsOf(on('network1'), gatewayService('network2', ['192.0.2.10']));
    assert.deepEqual([...seen.entries()].sort(), [
      ['10.244.0.11:5000', 1],
      ['10.244.0.40:5000', 1], // no network: reachable from every network
      ['10.246.0.31:5000', 1], // network3 has no gateway: sent as it is (istiod, sidecar mode)
      ['192.0.2.10:15443', 4], // 10.245.0.21 (1) + 10.245.0.22 (3); plaintext .23 and unready .24 dropped
    ]);
  });

  it('the gateway endpoint carries mesh mTLS (tlsMode istio), so the client originates its mTLS with the service SNI', () => {
    const { endpoints } = generateAll(on('network1'), pushContext(gatewayService('network2', ['192.0.2.10']), SERVICES, ENDPOINTS));
    const cla = endpoints.find((r) => r.name === CLUSTER)!.resource as { endpoints: { lbEndpoints: Lb[] }[] };
    const gw = cla.endpoints.flatMap((g) => g.lbEndpoints).find((e) => e.endpoint.address.socketAddress.address === '192.0.2.10')!;
    assert.deepEqual(gw.metadata!.filterMetadata['envoy.transport_socket_match'], { tlsMode: 'istio' });
  });

  it("a service whose only endpoints are on another network is reached through that network's gateway", () => {
    const seen = endpointsOf(on('network1'), gatewayService('network2', ['192.0.2.10']), 'outbound|8080||remote-only.sample.svc.cluster.local');
    assert.deepEqual([...seen.entries()], [['192.0.2.10:15443', 1]]);
  });

  it('a proxy on network2 sees network2 directly and network1 through its gateway port (networking.istio.io/gatewayPort)', () => {
    const seen = endpointsOf(on('network2'), gatewayService('network1', ['192.0.2.20'], 16443) + gatewayService('network2', ['192.0.2.10']));
    assert.deepEqual([...seen.entries()].sort(), [
      ['10.244.0.40:5000', 1],
      ['10.245.0.21:5000', 1],
      ['10.245.0.22:5000', 3],
      ['10.245.0.23:5000', 1],
      ['10.245.0.24:5000', 1],
      ['10.246.0.31:5000', 1],
      ['192.0.2.20:16443', 1],
    ]);
  });

  it('two gateways for a network share its weight; every weight is scaled by the gateway count (lcm)', () => {
    const seen = endpointsOf(on('network1'), gatewayService('network2', ['192.0.2.10', '192.0.2.11']));
    assert.deepEqual([...seen.entries()].sort(), [
      ['10.244.0.11:5000', 2],
      ['10.244.0.40:5000', 2],
      ['10.246.0.31:5000', 2],
      ['192.0.2.10:15443', 4],
      ['192.0.2.11:15443', 4],
    ]);
  });

  it("the network comes from the proxy's topology.istio.io/network label when its metadata has none", () => {
    const labelled = proxy({ namespace: 'sample', labels: { app: 'sleep', 'topology.istio.io/network': 'network1' } });
    assert.ok(endpointsOf(labelled, gatewayService('network2', ['192.0.2.10'])).has('192.0.2.10:15443'));
  });

  it("endpoints and proxies without a network are on the cluster's: istio-system's topology.istio.io/network label (istiod's network for the registry)", () => {
    const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: istio-system, labels: { topology.istio.io/network: network1 } }\n---\n';
    const gateways = ns + gatewayService('network1', ['192.0.2.20']) + gatewayService('network2', ['192.0.2.10']);
    const fromNetwork2 = endpointsOf(on('network2'), gateways);
    assert.equal(fromNetwork2.has('10.244.0.40:5000'), false, 'the unlabelled endpoint is on network1');
    assert.equal(fromNetwork2.get('192.0.2.20:15443'), 2, "network1's gateway stands for 10.244.0.11 and 10.244.0.40");
    const unlabelled = endpointsOf(proxy({ namespace: 'sample', labels: { app: 'sleep' } }), gateways);
    assert.ok(unlabelled.has('10.244.0.40:5000') && unlabelled.has('10.244.0.11:5000') && unlabelled.has('192.0.2.10:15443'), 'a proxy without a network is on network1');
  });

  it("MeshNetworks (the istio ConfigMap's meshNetworks): gateways by address or registryServiceName, endpoints fromRegistry / fromCidr", () => {
    const meshNetworks = (networks: string): string => `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  meshNetworks: |
${networks.split('\n').map((l) => `    ${l}`).join('\n')}
---
apiVersion: v1
kind: Service
metadata: { name: istio-eastwestgateway, namespace: istio-system }
spec: { type: LoadBalancer, selector: { istio: eastwestgateway }, ports: [{ name: tls, port: 15443 }] }
status: { loadBalancer: { ingress: [{ ip: 192.0.2.20 }] } }
---
`;
    const byRegistry = meshNetworks(`networks:
  network1:
    endpoints: [{ fromRegistry: Kubernetes }]
    gateways: [{ registryServiceName: istio-eastwestgateway.istio-system.svc.cluster.local, port: 15443 }]
  network2:
    endpoints: [{ fromCidr: 10.245.0.0/16 }]
    gateways: [{ address: 192.0.2.30, port: 16443 }]`);
    assert.deepEqual([...endpointsOf(on('network1'), byRegistry).entries()].sort(), [
      ['10.244.0.11:5000', 1],
      ['10.244.0.40:5000', 1],
      ['10.246.0.31:5000', 1],
      ['192.0.2.30:16443', 4],
    ]);
    // the unlabelled 10.244.0.40 is on network1 (fromRegistry: the cluster's network), behind its registry service's address
    assert.equal(endpointsOf(on('network2'), byRegistry).get('192.0.2.20:15443'), 2);
    const byCidr = meshNetworks(`networks:
  network1:
    endpoints: [{ fromCidr: 10.244.0.0/16 }]
    gateways: [{ address: 192.0.2.20, port: 15443 }]`);
    const seen = endpointsOf(on('network2'), byCidr);
    assert.equal(seen.has('10.244.0.40:5000'), false, 'the unlabelled endpoint in 10.244.0.0/16 is on network1');
    assert.equal(seen.get('192.0.2.20:15443'), 2);
  });

  it('REQUESTED_NETWORK_VIEW (an east-west gateway) limits the endpoints to those networks (and endpoints with none)', () => {
    const gw = on('network2', proxy({ type: 'router', namespace: 'istio-system', labels: { istio: 'eastwestgateway', 'topology.istio.io/network': 'network2' } }), { REQUESTED_NETWORK_VIEW: 'network2' });
    const seen = endpointsOf(gw, gatewayService('network1', ['192.0.2.20']) + gatewayService('network2', ['192.0.2.10']) + CROSS_NETWORK_GATEWAY, SNI);
    assert.deepEqual([...seen.keys()].sort(), ['10.244.0.40:5000', '10.245.0.21:5000', '10.245.0.22:5000', '10.245.0.23:5000', '10.245.0.24:5000']);
  });
});

describe('multi-network: AUTO_PASSTHROUGH gateway server', () => {
  const gw = on('network2', proxy({ type: 'router', namespace: 'istio-system', labels: { istio: 'eastwestgateway', 'topology.istio.io/network': 'network2' } }), { REQUESTED_NETWORK_VIEW: 'network2' });
  const yaml = gatewayService('network2', ['192.0.2.10']) + CROSS_NETWORK_GATEWAY;

  it('gives the gateway SNI-DNAT clusters outbound_.PORT_.SUBSET_.HOST without TLS (the client mTLS passes through)', () => {
    const { clusters } = generateAll(gw, pushContext(yaml, SERVICES, ENDPOINTS));
    const c = clusters.find((r) => r.name === SNI)?.resource;
    assert.ok(c, `no cluster ${SNI}: ${clusters.map((r) => r.name).join(', ')}`);
    assert.equal(c.type, 'EDS');
    assert.deepEqual((c.edsClusterConfig as Record<string, unknown>).serviceName, SNI);
    assert.equal(c.transportSocket, undefined);
    assert.equal(c.transportSocketMatches, undefined);
    // the mTLS clusters are still there for the gateway's own use
    assert.ok(clusters.find((r) => r.name === CLUSTER)?.resource.transportSocketMatches);
  });

  it('listens on 15443 with the TLS inspector and one chain per SNI, a tcp_proxy to that SNI-DNAT cluster', () => {
    const { listeners } = generateAll(gw, pushContext(yaml, SERVICES, ENDPOINTS));
    const l = listeners.find((r) => r.name === '0.0.0.0_15443')?.resource as { listenerFilters: { name: string }[]; filterChains: { filterChainMatch: { serverNames: string[]; transportProtocol: string }; filters: { name: string; typedConfig: { cluster?: string } }[] }[] };
    assert.ok(l, 'no 0.0.0.0_15443 listener');
    assert.deepEqual(l.listenerFilters.map((f) => f.name), ['envoy.filters.listener.tls_inspector']);
    const chain = l.filterChains.find((c) => c.filterChainMatch.serverNames.includes(SNI));
    assert.ok(chain, 'no chain for the helloworld SNI');
    assert.equal(chain.filterChainMatch.transportProtocol, 'tls');
    const tcp = chain.filters.at(-1)!;
    assert.equal(tcp.name, 'envoy.filters.network.tcp_proxy');
    assert.equal(tcp.typedConfig.cluster, SNI);
    assert.ok(l.filterChains.some((c) => c.filterChainMatch.serverNames.includes('outbound_.8080_._.remote-only.sample.svc.cluster.local')));
  });

  it('a gateway without an AUTO_PASSTHROUGH server gets no SNI-DNAT clusters', () => {
    const { clusters } = generateAll(gw, pushContext(gatewayService('network2', ['192.0.2.10']), SERVICES, ENDPOINTS));
    assert.equal(clusters.some((r) => r.name.startsWith('outbound_.')), false);
  });
});
