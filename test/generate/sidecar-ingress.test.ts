import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';
import { address, hcm, route, routeConfig, vhost } from '../proxy/support/envoy-builders.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';

type Obj = Record<string, any>;

const REVIEWS = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' });

function sidecar(spec: string): string {
  return `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: reviews-ingress, namespace: default }
spec:
  workloadSelector: { labels: { app: reviews } }
${spec}`;
}

function generated(yaml: string): { clusters: Obj[]; inbound: Obj } {
  const r = generateAll(REVIEWS, pushContext(yaml, RICH_SERVICES, RICH_ENDPOINTS));
  return {
    clusters: r.clusters.map((c) => c.resource as Obj).filter((c) => String(c.name).startsWith('inbound|')),
    inbound: r.listeners.find((l) => l.name === 'virtualInbound')!.resource as Obj,
  };
}

const portsOf = (inbound: Obj): number[] => [...new Set<number>(inbound.filterChains.map((c: Obj) => c.filterChainMatch?.destinationPort).filter((p: unknown) => typeof p === 'number' && p !== 15006))].sort();

describe('Sidecar ingress listeners, as istiod translates them', () => {
  it('serves exactly the ingress ports, to the defaultEndpoint on loopback (no 127.0.0.6 bind), with their connection pool', () => {
    const { clusters, inbound } = generated(sidecar(`
  ingress:
  - port: { number: 9443, protocol: HTTP, name: http-admin }
    defaultEndpoint: 127.0.0.1:8443
    connectionPool: { tcp: { maxConnections: 7, connectTimeout: 3s } }
  - port: { number: 9080, protocol: HTTP, name: http }
    defaultEndpoint: 127.0.0.1:8080
`));
    assert.deepEqual(portsOf(inbound), [9080, 9443], 'the ingress ports replace the service ports');
    const admin = clusters.find((c) => c.name === 'inbound|9443||')!;
    assert.equal(admin.type, 'STATIC');
    assert.deepEqual(admin.loadAssignment, { clusterName: 'inbound|9443||', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 8443 } } } }] }] });
    assert.equal(admin.upstreamBindConfig, undefined, 'loopback needs no capture bypass');
    assert.equal(admin.connectTimeout, '3s');
    assert.equal(admin.circuitBreakers.thresholds[0].maxConnections, 7);
    // the port a Service declares keeps that service's name; another is named after the Sidecar
    assert.equal(clusters.find((c) => c.name === 'inbound|9080||')!.metadata.filterMetadata.istio.services[0].host, 'reviews.default.svc.cluster.local');
    assert.equal(admin.metadata.filterMetadata.istio.services[0].host, 'reviews-ingress.default');
    const chain = inbound.filterChains.find((c: Obj) => c.filterChainMatch?.destinationPort === 9443 && c.filterChainMatch.transportProtocol === 'raw_buffer');
    assert.equal(chain.name, '0.0.0.0_9443');
  });

  it('sends 0.0.0.0:PORT to the workload IP from 127.0.0.6; without defaultEndpoint to the original destination', () => {
    const { clusters } = generated(sidecar(`
  ingress:
  - port: { number: 9080, protocol: HTTP, name: http }
    defaultEndpoint: 0.0.0.0:8080
  - port: { number: 9090, protocol: TCP, name: tcp }
`));
    const c = clusters.find((x) => x.name === 'inbound|9080||')!;
    assert.deepEqual(c.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress, { address: '10.244.0.11', portValue: 8080 });
    assert.deepEqual(c.upstreamBindConfig, { sourceAddress: { address: '127.0.0.6', portValue: 0 } });
    assert.equal(clusters.find((x) => x.name === 'inbound|9090||')!.type, 'ORIGINAL_DST');
  });

  it('applies inboundConnectionPool to the inbound clusters of the service ports; output unchanged without it', () => {
    const plain = generated('');
    const { clusters } = generated(sidecar(`
  inboundConnectionPool: { tcp: { maxConnections: 11 }, http: { http1MaxPendingRequests: 12 } }
`));
    const c = clusters.find((x) => x.name === 'inbound|9080||')!;
    assert.equal(c.type, 'ORIGINAL_DST');
    assert.deepEqual(c.circuitBreakers.thresholds[0], { maxConnections: 11, maxPendingRequests: 12, maxRequests: 4294967295, maxRetries: 4294967295 });
    assert.deepEqual({ ...c, circuitBreakers: undefined }, { ...plain.clusters.find((x) => x.name === 'inbound|9080||')!, circuitBreakers: undefined });
  });
});

describe('a Sidecar ingress defaultEndpoint reached through the proxy', () => {
  let h: Harness;
  let app: http.Server;
  let appPort: number;

  before(async () => {
    app = http.createServer((req, res) => res.end(`loopback app ${req.url}`));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as AddressInfo).port;
    const { clusters } = generated(sidecar(`
  ingress:
  - port: { number: 9080, protocol: HTTP, name: http }
    defaultEndpoint: 127.0.0.1:${appPort}
    connectionPool: { tcp: { maxConnections: 2 } }
`));
    const c = codec();
    const cluster = protoJsonToObject(c.type('envoy.config.cluster.v3.Cluster'), clusters.find((x) => x.name === 'inbound|9080||')!).object;
    h = await startHarness();
    await h.push({
      clusters: [cluster],
      listeners: [{ name: 'l', address: address('0.0.0.0', 8080), filterChains: [{ filters: [hcm('r')] }] }],
      routes: [routeConfig('r', [vhost('v', ['*'], [route({ prefix: '/' }, { cluster: 'inbound|9080||' })])])],
    });
  });

  after(async () => {
    await h.close();
    await new Promise<void>((r) => app.close(() => r()));
  });

  it('forwards to the application listening on loopback only, within the ingress connection pool', async () => {
    const r = await request(h.port('l'), { path: '/x' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'loopback app /x');
    assert.equal(h.proxy.clusters.get('inbound|9080||')!.config.limits.maxConnections, 2);
  });
});
