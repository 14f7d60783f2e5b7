import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { buildConfigDump } from '../../src/data/admin/config-dump.ts';
import type { AcceptedResource } from '../../src/data/xds-client/config-applier.ts';
import { EnvoyCodec } from '../../src/data/xds-client/envoy-codec.ts';

type Obj = Record<string, unknown>;

const codec = new EnvoyCodec();

/** What the proxy stores for an accepted resource: wire bytes decoded by its EnvoyCodec. */
function accepted(typeUrl: string, name: string, object: Obj): AcceptedResource {
  return { name, version: 'v1', resource: codec.decode(typeUrl, codec.encode(typeUrl, object)), lastUpdated: '2026-01-01T00:00:00.000Z' };
}

function dump(resources: [string, AcceptedResource][]): Obj[] {
  const m = new Map<string, Map<string, AcceptedResource>>();
  for (const [t, r] of resources) {
    if (!m.has(t)) m.set(t, new Map());
    m.get(t)!.set(r.name, r);
  }
  const d = buildConfigDump({ root: codec.root, node: { id: 'sidecar~1.2.3.4~a.ns~ns.svc.cluster.local' }, accepted: m, localSecrets: [], includeEds: true });
  return d.configs as Obj[];
}

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

describe('buildConfigDump', () => {
  it('prints a route with metadata and timeout in proto3 JSON', () => {
    const route = accepted(TYPE_URL.route, '80', {
      name: '80',
      virtualHosts: [{
        name: 'reviews:80',
        domains: ['reviews'],
        routes: [{
          match: { prefix: '/' },
          route: { cluster: 'outbound|80||reviews', timeout: { seconds: 10 }, idleTimeout: { seconds: 1, nanos: 500000000 }, retryPolicy: { numRetries: { value: 2 } } },
          metadata: { filterMetadata: { istio: { fields: { config: { stringValue: '/apis/networking.istio.io/v1/namespaces/ns/virtual-service/reviews' }, n: { numberValue: 3 } } } } },
        }],
      }],
      validateClusters: { value: false },
    });
    const rds = dump([[TYPE_URL.route, route]]).find((c) => c['@type'] === `${ADMIN}RoutesConfigDump`) as { dynamicRouteConfigs: { routeConfig: Obj }[] };
    const rc = rds.dynamicRouteConfigs[0].routeConfig;
    assert.equal(rc['@type'], TYPE_URL.route);
    assert.equal(rc.validateClusters, false);
    const r = ((rc.virtualHosts as Obj[])[0].routes as Obj[])[0];
    assert.deepEqual(r.route, { cluster: 'outbound|80||reviews', timeout: '10s', idleTimeout: '1.500s', retryPolicy: { numRetries: 2 } });
    assert.deepEqual(r.metadata, { filterMetadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/ns/virtual-service/reviews', n: 3 } } });
  });

  it('prints a cluster with connect_timeout, circuit-breaker wrappers and typed Any in proto3 JSON', () => {
    const cluster = accepted(TYPE_URL.cluster, 'outbound|80||reviews', {
      name: 'outbound|80||reviews',
      type: 'EDS',
      connectTimeout: { seconds: 10 },
      edsClusterConfig: { serviceName: 'outbound|80||reviews', edsConfig: { ads: {}, initialFetchTimeout: { seconds: 0 }, resourceApiVersion: 'V3' } },
      circuitBreakers: { thresholds: [{ maxConnections: { value: 4294967295 }, maxPendingRequests: { value: 100 }, maxRequests: { value: 1024 }, maxRetries: { value: 3 }, trackRemaining: true }] },
      typedExtensionProtocolOptions: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          commonHttpProtocolOptions: { idleTimeout: { seconds: 3600 }, maxRequestsPerConnection: { value: 1 } },
          useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
        },
      },
      metadata: { filterMetadata: { istio: { fields: { services: { listValue: { values: [{ structValue: { fields: { host: { stringValue: 'reviews.ns.svc.cluster.local' } } } }] } } } } } },
    });
    const cds = dump([[TYPE_URL.cluster, cluster]]).find((c) => c['@type'] === `${ADMIN}ClustersConfigDump`) as { dynamicActiveClusters: { cluster: Obj }[] };
    const c = cds.dynamicActiveClusters[0].cluster;
    assert.equal(c['@type'], TYPE_URL.cluster);
    assert.equal(c.connectTimeout, '10s');
    assert.deepEqual((c.edsClusterConfig as Obj).edsConfig, { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' });
    assert.deepEqual(c.circuitBreakers, { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 100, maxRequests: 1024, maxRetries: 3, trackRemaining: true }] });
    const hpo = (c.typedExtensionProtocolOptions as Obj)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'] as Obj;
    assert.equal(hpo['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    assert.deepEqual(hpo.commonHttpProtocolOptions, { idleTimeout: '3600s', maxRequestsPerConnection: 1 });
    assert.deepEqual(c.metadata, { filterMetadata: { istio: { services: [{ host: 'reviews.ns.svc.cluster.local' }] } } });
  });

  it('prints nested typed filter configs of a listener and keeps 64-bit integers as strings', () => {
    const listener = accepted(TYPE_URL.listener, 'virtualInbound', {
      name: 'virtualInbound',
      address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } },
      filterChains: [{
        filters: [{
          name: 'envoy.filters.network.tcp_proxy',
          typedConfig: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
            statPrefix: 'InboundPassthroughCluster',
            cluster: 'InboundPassthroughCluster',
            idleTimeout: { seconds: 3600 },
            maxDownstreamConnectionDuration: { seconds: 0, nanos: 250000000 },
          },
        }],
      }],
      perConnectionBufferLimitBytes: { value: 32768 },
    });
    const cluster = accepted(TYPE_URL.cluster, 'c', { name: 'c', type: 'STATIC', lbPolicy: 'MAGLEV', maglevLbConfig: { tableSize: { value: 65537 } } });
    const configs = dump([[TYPE_URL.listener, listener], [TYPE_URL.cluster, cluster]]);
    const lds = configs.find((c) => c['@type'] === `${ADMIN}ListenersConfigDump`) as { dynamicListeners: { activeState: { listener: Obj } }[] };
    const l = lds.dynamicListeners[0].activeState.listener;
    assert.equal(l.perConnectionBufferLimitBytes, 32768);
    const tcp = ((l.filterChains as Obj[])[0].filters as Obj[])[0].typedConfig as Obj;
    assert.deepEqual(tcp, {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      statPrefix: 'InboundPassthroughCluster',
      cluster: 'InboundPassthroughCluster',
      idleTimeout: '3600s',
      maxDownstreamConnectionDuration: '0.250s',
    });
    const cds = configs.find((c) => c['@type'] === `${ADMIN}ClustersConfigDump`) as { dynamicActiveClusters: { cluster: Obj }[] };
    // MaglevLbConfig.table_size is a UInt64Value: proto3 JSON prints 64-bit integers as strings
    assert.deepEqual(cds.dynamicActiveClusters[0].cluster.maglevLbConfig, { tableSize: '65537' });
  });
});
